// Argument checks the kernel cannot make for us: types and JS ranges. Values
// the kernel judges (alignment, limits) pass through so both backends answer
// with the kernel's own errno.

export function argError(message: string): TypeError {
  const err = new TypeError(message) as TypeError & { code: string };
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

export function toSize(value: unknown, name: string): bigint {
  if (typeof value === 'bigint' && value >= 0n) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw argError(`${name} must be a non-negative integer (number or bigint), got ${String(value)}`);
}

/** A length that must also fit a JS ArrayBuffer view. */
export function toLength(value: unknown, name: string): number {
  const size = toSize(value, name);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw argError(`${name} is too large to map: ${size}`);
  return Number(size);
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw argError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${String(value)}`);
}

export function toFd(value: unknown, name = 'fd'): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw argError(`${name} must be a file descriptor (a non-negative integer), got ${String(value)}`);
}
