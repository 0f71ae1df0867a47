// Secrets as the test runtimes see and record them: Pulumi hands a mock a secret as
// {[SECRET_SIG]: SECRET_VALUE, value}; the JSON the tests read marks it {__secret: value}.
// No @pulumi/pulumi here: the test process imports this too.

export const SECRET_SIG = '4dabf18193072939515e22adb298388d';
export const SECRET_VALUE = '1b47061264138c4ac30d75fd1eb44270';

export function isSecret(value: unknown): value is { __secret: unknown } {
  return value !== null && typeof value === 'object' && '__secret' in value;
}

/** Pulumi's secret wrappers as {__secret: value}. */
export function marked(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(marked);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (obj[SECRET_SIG] === SECRET_VALUE) return { __secret: marked(obj['value']) };
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, marked(v)]));
  }
  return value;
}

/** {__secret: value} as Pulumi's secret wrappers again. */
export function wire(value: unknown): unknown {
  if (isSecret(value)) return { [SECRET_SIG]: SECRET_VALUE, value: wire(value.__secret) };
  if (Array.isArray(value)) return value.map(wire);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wire(v)]));
  }
  return value;
}

/** The value with secret markers removed (what the provider would receive). */
export function reveal(value: unknown): unknown {
  if (isSecret(value)) return reveal(value.__secret);
  if (Array.isArray(value)) return value.map(reveal);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
  }
  return value;
}

/** Secret markers as `pulumi stack export` shows secrets: ciphertext, as Pulumi stores them. */
export function encrypted(value: unknown): unknown {
  if (isSecret(value)) return { [SECRET_SIG]: SECRET_VALUE, ciphertext: 'v1:...' };
  if (Array.isArray(value)) return value.map(encrypted);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encrypted(v)]));
  }
  return value;
}
