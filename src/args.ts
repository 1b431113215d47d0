// The validation layer: every public method checks its JS arguments here,
// before anything is made, and a wrong value gets the error Node's own APIs
// give (code ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE or
// ERR_INVALID_STATE, with the argument and the allowed range in the message).
// Values the kernel judges (alignment, device limits) pass through, so both
// backends answer those with the kernel's own errno.

type Coded<E extends Error> = E & { code: string };

function coded<E extends Error>(err: E, code: string): Coded<E> {
  const e = err as Coded<E>;
  e.code = code;
  return e;
}

/** How Node's errors show a received value. */
function received(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `Received an instance of ${name}` : 'Received an object';
  }
  if (typeof value === 'bigint') return `Received type bigint (${value}n)`;
  const shown = typeof value === 'string' && value.length > 28 ? `${value.slice(0, 25)}...` : value;
  return `Received type ${typeof value} (${typeof shown === 'string' ? `'${shown}'` : String(shown)})`;
}

export function invalidType(name: string, expected: string, value: unknown): Coded<TypeError> {
  return coded(new TypeError(`The "${name}" argument must be ${expected}. ${received(value)}`), 'ERR_INVALID_ARG_TYPE');
}

export function invalidValue(name: string, value: unknown, reason: string): Coded<TypeError> {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? `'${value}'` : typeof value === 'object' && value !== null ? (value as object).constructor?.name ?? 'object' : String(value);
  return coded(new TypeError(`The argument '${name}' ${reason}. Received ${shown}`), 'ERR_INVALID_ARG_VALUE');
}

export function outOfRange(name: string, range: string, value: unknown): Coded<RangeError> {
  const shown = typeof value === 'bigint' ? `${value}n` : String(value);
  return coded(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE');
}

export function invalidState(message: string): Coded<Error> {
  return coded(new Error(message), 'ERR_INVALID_STATE');
}

const U64_MAX = (1n << 64n) - 1n;

/** A non-negative integer that may pass 2^53: a number or a bigint, as a bigint. */
export function toSize(value: unknown, name: string): bigint {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= U64_MAX) return value;
    throw outOfRange(name, '>= 0 and <= 2^64-1', value);
  }
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return BigInt(value);
    throw Number.isInteger(value) && value > 0
      ? outOfRange(name, 'a safe integer (pass a bigint past 2^53)', value)
      : outOfRange(name, 'an integer >= 0', value);
  }
  throw invalidType(name, 'of type number or bigint', value);
}

/** A length that must also fit a JS ArrayBuffer view. */
export function toLength(value: unknown, name: string): number {
  const size = toSize(value, name);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw outOfRange(name, `<= ${Number.MAX_SAFE_INTEGER} to be mapped`, value);
  return Number(size);
}

/** An integer number in [min, max]. */
export function toInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  return value;
}

/** A u64 as a bigint (work-request ids, keys that must not wrap). */
export function toU64(value: unknown, name: string): bigint {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= U64_MAX) return value;
    throw outOfRange(name, '>= 0n and <= 2n ** 64n - 1n', value);
  }
  throw invalidType(name, 'of type bigint', value);
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  if (typeof value !== 'string') throw invalidType(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  throw invalidValue(name, value, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
}

export function toFd(value: unknown, name = 'fd'): number {
  return toInt(value, name, 0, 0x7fffffff);
}

export function toBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidType(name, 'of type boolean', value);
  return value;
}

export function toStringArg(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value);
  return value;
}

/** An options argument: undefined gives {}, anything but a plain object is refused. */
export function optionsArg<T extends object>(value: T | undefined, name = 'options'): T {
  if (value === undefined) return {} as T;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidType(name, 'of type object', value);
  return value;
}

/** `value` when it is an instance of `type`, else ERR_INVALID_ARG_TYPE. */
export function instanceArg<T>(value: unknown, type: abstract new (...args: never[]) => T, name: string): T {
  if (value instanceof type) return value;
  throw invalidType(name, `an instance of ${type.name}`, value);
}

export const MAX_TIMEOUT = 2 ** 31 - 1;

export interface WaitOptions {
  /** Milliseconds before the wait rejects with ETIMEDOUT: an integer from 0 to 2^31-1. Default: no limit. */
  timeout?: number;
  signal?: AbortSignal;
}

/** Checks a wait's options: an object, a timeout a timer can keep, a real AbortSignal. */
export function waitOptions<T extends WaitOptions>(value: T | undefined): T {
  const o = optionsArg(value);
  if (o.timeout !== undefined) toInt(o.timeout, 'options.timeout', 0, MAX_TIMEOUT);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidType('options.signal', 'an instance of AbortSignal', o.signal);
  return o;
}
