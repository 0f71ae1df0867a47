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

/** The names a certificate is for: the DNS names and loopback's address. */
function subjectAltNames(dnsNames: string[]): x509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension([
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    { type: 'ip', value: '127.0.0.1' },
  ]);
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
    extensions: [subjectAltNames(dnsNames)],
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

/**
 * A certificate as a CA issues one (ECDSA P-256, for a TLS server, valid for `days`), with the
 * test CA that issued it (`caPem`): a client that trusts the CA verifies the whole chain, so a
 * TLS audit judges the server's configuration rather than a self-signed certificate.
 */
export async function makeIssuedCertificate(
  commonName: string,
  dnsNames: string[],
  days = 365,
): Promise<TestCertificate & { caPem: string }> {
  const now = Date.now();
  const notBefore = new Date(now - 3600_000);
  const caKeys = await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: ['chatbot test CA'] }],
    notBefore,
    notAfter: new Date(now + (days + 1) * 86400_000),
    keys: caKeys,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const keys = await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [commonName] }],
    issuer: ca.subject,
    notBefore,
    notAfter: new Date(now + days * 86400_000),
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      subjectAltNames(dnsNames),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      // Where a client would look for revocations, as a public CA's certificates say.
      new x509.CRLDistributionPointsExtension(['http://localhost/chatbot-test-ca.crl']),
    ],
  });
  const certificatePem = cert.toString('pem');
  const caPem = ca.toString('pem');
  const privateKeyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  const parsed = new X509Certificate(certificatePem);
  if (
    !parsed.verify(new X509Certificate(caPem).publicKey) ||
    !parsed.checkPrivateKey(createPrivateKey(privateKeyPem))
  ) {
    throw new Error('the issued test certificate does not verify');
  }
  return { certificatePem, privateKeyPem, caPem };
}
