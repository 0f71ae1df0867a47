// A self-signed ECDSA P-256 certificate for nginx -t and the TLS tests, made with
// @peculiar/x509 over WebCrypto (no openssl process, no hand-written DER).
import 'reflect-metadata';
import { createPrivateKey, KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export interface TestCertificate {
  certificatePem: string;
  privateKeyPem: string;
}

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A random positive serial in hex, as CAs issue them (at most 20 bytes). */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive and without a leading zero byte
  return bytes.toString('hex');
}

export async function makeTestCertificate(commonName: string, dnsNames: string[]): Promise<TestCertificate> {
  const keys = await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }],
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86400_000),
    keys,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        { type: 'ip', value: '127.0.0.1' },
      ]),
    ],
  });
  const privateKeyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  const certificatePem = cert.toString('pem');
  // Refuse to hand out something malformed.
  const parsed = new X509Certificate(certificatePem);
  if (
    !parsed.verify(KeyObject.from(keys.publicKey)) ||
    !parsed.checkPrivateKey(createPrivateKey(privateKeyPem))
  ) {
    throw new Error('the test certificate does not verify');
  }
  return { certificatePem, privateKeyPem };
}
