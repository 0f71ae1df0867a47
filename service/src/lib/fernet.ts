// Fernet tokens (https://github.com/fernet/spec): AES-128-CBC with PKCS7 padding, then
// HMAC-SHA256 over version | timestamp | IV | ciphertext; url-safe base64 with padding.
// Used to store tenants' provider keys encrypted with FERNET_KEY.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;
const MAX_CLOCK_SKEW_SECONDS = 60;
const BASE64URL_PADDED = /^[A-Za-z0-9_-]*={0,2}$/;

export class FernetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FernetError';
  }
}

function decodeStrict(value: string): Buffer | undefined {
  if (value.length % 4 !== 0 || !BASE64URL_PADDED.test(value)) return undefined;
  return Buffer.from(value, 'base64url');
}

function encodePadded(data: Buffer): string {
  const text = data.toString('base64url');
  return text + '='.repeat((4 - (text.length % 4)) % 4);
}

export class Fernet {
  readonly #signingKey: Buffer;
  readonly #encryptionKey: Buffer;

  constructor(key: string) {
    const raw = /^[A-Za-z0-9_-]{43}=?$/.test(key) ? Buffer.from(key, 'base64url') : undefined;
    if (raw?.length !== 32) throw new FernetError('a Fernet key is url-safe base64 of 32 bytes');
    this.#signingKey = raw.subarray(0, 16);
    this.#encryptionKey = raw.subarray(16);
  }

  encrypt(plaintext: string, options: { now?: Date; iv?: Buffer } = {}): string {
    const iv = options.iv ?? randomBytes(16);
    const seconds = BigInt(Math.floor((options.now ?? new Date()).getTime() / 1000));
    const header = Buffer.alloc(9);
    header.writeUInt8(VERSION, 0);
    header.writeBigUInt64BE(seconds, 1);
    const cipher = createCipheriv('aes-128-cbc', this.#encryptionKey, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const signed = Buffer.concat([header, iv, ciphertext]);
    const mac = createHmac('sha256', this.#signingKey).update(signed).digest();
    return encodePadded(Buffer.concat([signed, mac]));
  }

  /** Decrypts a token; throws FernetError for any token the spec says to refuse. */
  decrypt(token: string, options: { ttlSeconds?: number; now?: Date } = {}): string {
    const data = decodeStrict(token);
    // version(1) + timestamp(8) + iv(16) + at least one block(16) + hmac(32)
    if (data === undefined) throw new FernetError('token is not url-safe base64');
    if (data.length < 1 + 8 + 16 + 16 + 32) throw new FernetError('token is too short');
    if (data.readUInt8(0) !== VERSION) throw new FernetError('unknown token version');
    const signed = data.subarray(0, data.length - 32);
    const mac = data.subarray(data.length - 32);
    const expected = createHmac('sha256', this.#signingKey).update(signed).digest();
    if (!timingSafeEqual(mac, expected)) throw new FernetError('token signature does not match');

    const issued = Number(data.readBigUInt64BE(1));
    const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
    if (issued > now + MAX_CLOCK_SKEW_SECONDS) throw new FernetError('token timestamp is in the future');
    if (options.ttlSeconds !== undefined && issued + options.ttlSeconds < now) {
      throw new FernetError('token has expired');
    }
    const iv = data.subarray(9, 25);
    const ciphertext = data.subarray(25, data.length - 32);
    if (ciphertext.length % 16 !== 0) throw new FernetError('ciphertext is not a whole number of blocks');
    try {
      const decipher = createDecipheriv('aes-128-cbc', this.#encryptionKey, iv);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch (cause) {
      throw Object.assign(new FernetError('token padding is invalid'), { cause });
    }
  }
}
