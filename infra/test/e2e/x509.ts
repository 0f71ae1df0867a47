// What @pulumi/tls's PrivateKey and SelfSignedCert produce, for the harness: an ECDSA key
// (P-256/P-384) in SEC1, PKCS#8 and SPKI PEM (node:crypto), and a self-signed X.509 v3
// certificate for a subject, DNS names and IP addresses with the allowed uses as key usage
// and extended key usage (@peculiar/x509, signed with the key through WebCrypto).
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { randomSerial } from '../support/test-cert.ts';

export interface KeyPems {
  privateKeyPem: string;
  privateKeyPemPkcs8: string;
  publicKeyPem: string;
}

const CURVES: Record<string, { node: string; web: string; hash: string }> = {
  P256: { node: 'prime256v1', web: 'P-256', hash: 'SHA-256' },
  P384: { node: 'secp384r1', web: 'P-384', hash: 'SHA-384' },
};

export function ecdsaKey(curve: string): KeyPems {
  const namedCurve = CURVES[curve]?.node;
  if (namedCurve === undefined)
    throw new Error(`tls.PrivateKey: the harness makes ECDSA P256/P384 keys, not ${curve}`);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  return {
    privateKeyPem: privateKey.export({ type: 'sec1', format: 'pem' }) as string,
    privateKeyPemPkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

const KEY_USAGE: Record<string, x509.KeyUsageFlags> = {
  digital_signature: x509.KeyUsageFlags.digitalSignature,
  content_commitment: x509.KeyUsageFlags.nonRepudiation,
  key_encipherment: x509.KeyUsageFlags.keyEncipherment,
  data_encipherment: x509.KeyUsageFlags.dataEncipherment,
  key_agreement: x509.KeyUsageFlags.keyAgreement,
  cert_signing: x509.KeyUsageFlags.keyCertSign,
  crl_signing: x509.KeyUsageFlags.cRLSign,
};
const EXT_KEY_USAGE: Record<string, string> = {
  server_auth: x509.ExtendedKeyUsage.serverAuth,
  client_auth: x509.ExtendedKeyUsage.clientAuth,
};

export interface SelfSignedInputs {
  privateKeyPem: string;
  subject: { commonName?: string; organization?: string };
  dnsNames: string[];
  ipAddresses: string[];
  validityPeriodHours: number;
  allowedUses: string[];
}

export async function selfSignedCert(inputs: SelfSignedInputs): Promise<{
  certPem: string;
  validityStartTime: string;
  validityEndTime: string;
}> {
  const key = createPrivateKey(inputs.privateKeyPem);
  const publicKey = createPublicKey(key);
  const curve = Object.values(CURVES).find((c) => c.node === key.asymmetricKeyDetails?.namedCurve);
  if (key.asymmetricKeyType !== 'ec' || curve === undefined)
    throw new Error('tls.SelfSignedCert: the harness signs with ECDSA P256/P384 keys only');
  const algorithm = { name: 'ECDSA', namedCurve: curve.web, hash: curve.hash };
  const keys = {
    privateKey: key.toCryptoKey(algorithm, false, ['sign']),
    publicKey: publicKey.toCryptoKey(algorithm, true, ['verify']),
  };
  for (const ip of inputs.ipAddresses) {
    if (isIP(ip) === 0) throw new Error(`tls.SelfSignedCert: not an IP address: ${ip}`);
  }
  let usages = 0;
  const eku: string[] = [];
  for (const use of inputs.allowedUses) {
    const flag = KEY_USAGE[use];
    const ext = EXT_KEY_USAGE[use];
    if (flag !== undefined) usages |= flag;
    else if (ext !== undefined) eku.push(ext);
    else throw new Error(`tls.SelfSignedCert: the harness does not know the allowed use "${use}"`);
  }
  const name: x509.JsonName = [];
  if (inputs.subject.organization !== undefined) name.push({ O: [inputs.subject.organization] });
  if (inputs.subject.commonName !== undefined) name.push({ CN: [inputs.subject.commonName] });
  const notBefore = new Date();
  const notAfter = new Date(notBefore.getTime() + inputs.validityPeriodHours * 3600_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        ...inputs.dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...inputs.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      ...(usages !== 0 ? [new x509.KeyUsagesExtension(usages, true)] : []),
      ...(eku.length > 0 ? [new x509.ExtendedKeyUsageExtension(eku)] : []),
    ],
  });
  const certPem = cert.toString('pem');
  if (!new X509Certificate(certPem).verify(publicKey))
    throw new Error('the self-signed certificate does not verify');
  return { certPem, validityStartTime: notBefore.toISOString(), validityEndTime: notAfter.toISOString() };
}
