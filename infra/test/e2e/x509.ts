// What @pulumi/tls's PrivateKey and SelfSignedCert produce, made with node:crypto: an ECDSA
// key (P-256/P-384) in SEC1, PKCS#8 and SPKI PEM, and a self-signed X.509 v3 certificate
// (DER built here, signed with the key) for a subject, DNS names and IP addresses.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';

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

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
const set = (...parts: Buffer[]) => tlv(0x31, ...parts);
const integer = (b: Buffer) => tlv(0x02, (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const bitString = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
const octets = (b: Buffer) => tlv(0x04, b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
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
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
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
    seq(
      oid('2.5.29.17'),
      octets(
        seq(
          ...inputs.dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
          ...inputs.ipAddresses.map((ip) => tlv(0x87, ipBytes(ip))),
        ),
      ),
    ),
    seq(oid('2.5.29.19'), bool(true), octets(seq())),
    ...(usageBits !== 0
      ? [seq(oid('2.5.29.15'), bool(true), octets(bitString(Buffer.from([usageBits]), 7 - highest)))]
      : []),
    ...(eku.length > 0 ? [seq(oid('2.5.29.37'), octets(seq(...eku.map(oid))))] : []),
  ];
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, { key, dsaEncoding: 'der' });
  const der = seq(tbs, ecdsaWithSha256, bitString(signature));
  const b64 =
    der
      .toString('base64')
      .match(/.{1,64}/g)
      ?.join('\n') ?? '';
  const certPem = `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
  if (!new X509Certificate(certPem).verify(publicKey))
    throw new Error('the self-signed certificate does not verify');
  return { certPem, validityStartTime: notBefore.toISOString(), validityEndTime: notAfter.toISOString() };
}
