import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Fernet, FernetError } from '../src/lib/fernet.ts';
import generate from './fixtures/fernet/generate.json' with { type: 'json' };
import invalid from './fixtures/fernet/invalid.json' with { type: 'json' };
import verify from './fixtures/fernet/verify.json' with { type: 'json' };

/** A Fernet key as FERNET_KEY takes it: 32 random bytes, url-safe base64 with padding. */
const generateFernetKey = () => randomBytes(32).toString('base64url') + '=';

describe('Fernet (specification vectors)', () => {
  it.each(generate)('generates the token of the specification for $src', (v) => {
    const token = new Fernet(v.secret).encrypt(v.src, { now: new Date(v.now), iv: Buffer.from(v.iv) });
    expect(token).toBe(v.token);
  });

  it.each(verify)('decrypts the verification token to $src', (v) => {
    const plain = new Fernet(v.secret).decrypt(v.token, { now: new Date(v.now), ttlSeconds: v.ttl_sec });
    expect(plain).toBe(v.src);
  });

  it.each(invalid)('refuses a token with $desc', (v) => {
    expect(() =>
      new Fernet(v.secret).decrypt(v.token, { now: new Date(v.now), ttlSeconds: v.ttl_sec }),
    ).toThrow(FernetError);
  });

  it('round-trips with a generated key and refuses another key', () => {
    const key = generateFernetKey();
    const token = new Fernet(key).encrypt('sk-or-v1-secret');
    expect(new Fernet(key).decrypt(token)).toBe('sk-or-v1-secret');
    expect(() => new Fernet(generateFernetKey()).decrypt(token)).toThrow(FernetError);
  });

  it('refuses a key that is not 32 bytes of url-safe base64', () => {
    expect(() => new Fernet('short')).toThrow(FernetError);
  });
});
