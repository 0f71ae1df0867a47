// DER encoding for the self-signed X.509 v3 certificates the tests make with node:crypto
// alone (support/test-cert.ts for nginx -t, e2e/x509.ts for the harness's tls.SelfSignedCert).
import { sign, type KeyObject } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
export const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
export const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
export const set = (...parts: Buffer[]) => tlv(0x31, ...parts);
export const integer = (b: Buffer) =>
  tlv(0x02, (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
export const bitString = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
export const octets = (b: Buffer) => tlv(0x04, b);
export const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
export const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
export function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
/** UTCTime (YYMMDDhhmmssZ). */
export function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

/** The subjectAltName extension: DNS names and IP addresses (as bytes). */
export function subjectAltName(dnsNames: string[], ipAddresses: Buffer[]): Buffer {
  return seq(
    oid('2.5.29.17'),
    octets(
      seq(
        ...dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
        ...ipAddresses.map((ip) => tlv(0x87, ip)),
      ),
    ),
  );
}

export interface CertificateFields {
  serial: Buffer;
  /** The subject, which is the issuer too (a DER Name). */
  name: Buffer;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  /** Each extension as a DER Extension. */
  extensions: Buffer[];
  /** Signs the certificate (ECDSA with SHA-256). */
  privateKey: KeyObject;
}

/** A self-signed X.509 v3 certificate in PEM. */
export function selfSignedPem(c: CertificateFields): string {
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(c.serial),
    ecdsaWithSha256,
    c.name,
    seq(utcTime(c.notBefore), utcTime(c.notAfter)),
    c.name,
    c.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...c.extensions)),
  );
  const signature = sign('sha256', tbs, { key: c.privateKey, dsaEncoding: 'der' });
  const der = seq(tbs, ecdsaWithSha256, bitString(signature));
  const b64 =
    der
      .toString('base64')
      .match(/.{1,64}/g)
      ?.join('\n') ?? '';
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}
