// A self-signed ECDSA P-256 certificate made with node:crypto alone (no openssl, no
// @pulumi/tls), for nginx -t: DER-encodes the certificate (der.ts) and signs it.
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { oid, selfSignedPem, seq, set, subjectAltName, utf8 } from './der.ts';

export interface TestCertificate {
  certificatePem: string;
  privateKeyPem: string;
}

export function makeTestCertificate(commonName: string, dnsNames: string[]): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const certificatePem = selfSignedPem({
    serial: randomBytes(12),
    name: seq(set(seq(oid('2.5.4.3'), utf8(commonName)))),
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86400_000),
    publicKey,
    extensions: [subjectAltName(dnsNames, [Buffer.from([127, 0, 0, 1])])],
    privateKey,
  });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  // Refuse to hand out something malformed.
  const x509 = new X509Certificate(certificatePem);
  if (!x509.verify(publicKey) || !x509.checkPrivateKey(createPrivateKey(privateKeyPem))) {
    throw new Error('the test certificate does not verify');
  }
  return { certificatePem, privateKeyPem };
}
