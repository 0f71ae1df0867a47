// What @pulumi/tls's PrivateKey and SelfSignedCert produce, made with node:crypto: an ECDSA
// key (P-256/P-384) in SEC1, PKCS#8 and SPKI PEM, and a self-signed X.509 v3 certificate
// (DER built with ../support/der.ts, signed with the key) for a subject, DNS names and IP
// addresses.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString,
  bool,
  octets,
  oid,
  selfSignedPem,
  seq,
  set,
  subjectAltName,
  utf8,
} from '../support/der.ts';

export interface KeyPems {
  privateKeyPem: string;
  privateKeyPemPkcs8: string;
  publicKeyPem: string;
}

export function ecdsaKey(curve: string): KeyPems {
  const namedCurve = { P256: 'prime256v1', P384: 'secp384r1' }[curve];
  if (namedCurve === undefined)
    throw new Error(`tls.PrivateKey: the harness makes ECDSA P256/P384 keys, not ${curve}`);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  return {
    privateKeyPem: privateKey.export({ type: 'sec1', format: 'pem' }) as string,
    privateKeyPemPkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  throw new Error(`tls.SelfSignedCert: the harness writes IPv4 addresses only, not ${ip}`);
}

const KEY_USAGE_BITS: Record<string, number> = {
  digital_signature: 0,
  content_commitment: 1,
  key_encipherment: 2,
  data_encipherment: 3,
  key_agreement: 4,
  cert_signing: 5,
  crl_signing: 6,
};
const EXT_KEY_USAGE: Record<string, string> = {
  server_auth: '1.3.6.1.5.5.7.3.1',
  client_auth: '1.3.6.1.5.5.7.3.2',
};

export interface SelfSignedInputs {
  privateKeyPem: string;
  subject: { commonName?: string; organization?: string };
  dnsNames: string[];
  ipAddresses: string[];
  validityPeriodHours: number;
  allowedUses: string[];
}

export function selfSignedCert(inputs: SelfSignedInputs): {
  certPem: string;
  validityStartTime: string;
  validityEndTime: string;
} {
  const key = createPrivateKey(inputs.privateKeyPem);
  const publicKey = createPublicKey(key);
  const rdns = [
    ...(inputs.subject.organization !== undefined
      ? [set(seq(oid('2.5.4.10'), utf8(inputs.subject.organization)))]
      : []),
    ...(inputs.subject.commonName !== undefined
      ? [set(seq(oid('2.5.4.3'), utf8(inputs.subject.commonName)))]
      : []),
  ];
  const name = seq(...rdns);
  const notBefore = new Date();
  const notAfter = new Date(notBefore.getTime() + inputs.validityPeriodHours * 3600_000);

  let usageBits = 0;
  let highest = 0;
  const eku: string[] = [];
  for (const use of inputs.allowedUses) {
    const bit = KEY_USAGE_BITS[use];
    const ext = EXT_KEY_USAGE[use];
    if (bit !== undefined) {
      usageBits |= 0x80 >> bit;
      highest = Math.max(highest, bit);
    } else if (ext !== undefined) eku.push(ext);
    else throw new Error(`tls.SelfSignedCert: the harness does not know the allowed use "${use}"`);
  }
  const extensions = [
    subjectAltName(inputs.dnsNames, inputs.ipAddresses.map(ipBytes)),
    seq(oid('2.5.29.19'), bool(true), octets(seq())),
    ...(usageBits !== 0
      ? [seq(oid('2.5.29.15'), bool(true), octets(bitString(Buffer.from([usageBits]), 7 - highest)))]
      : []),
    ...(eku.length > 0 ? [seq(oid('2.5.29.37'), octets(seq(...eku.map(oid))))] : []),
  ];
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const certPem = selfSignedPem({
    serial,
    name,
    notBefore,
    notAfter,
    publicKey,
    extensions,
    privateKey: key,
  });
  if (!new X509Certificate(certPem).verify(publicKey))
    throw new Error('the self-signed certificate does not verify');
  return { certPem, validityStartTime: notBefore.toISOString(), validityEndTime: notAfter.toISOString() };
}
