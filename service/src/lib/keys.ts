// PEM keys as the environment carries them, and the JWT algorithm each key is used with.
import type { KeyObject } from 'node:crypto';

/** A literal `\n` in an environment value stands for a newline (PEM keys in one line). */
export function unescapeNewlines(value: string): string {
  return value.replace(/\\n/g, '\n');
}

/** The JWT algorithm a key is used with: RS256 for RSA, ES256 for P-256, EdDSA for Ed25519. */
export function jwtAlgorithmFor(key: KeyObject): 'RS256' | 'ES256' | 'EdDSA' | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  return undefined;
}
