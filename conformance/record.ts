// What a scenario leaves behind: one normalised outcome per step, and how two
// such records are compared. Normalised means what legitimately differs
// between runs (fd numbers, object handles, inode numbers, timestamps,
// addresses, the random byte of an rxe key) is left out by the scenario or
// reduced to a relation; everything a user relies on (sizes, flags, errno
// codes, syscalls, bytes read back, statuses) stays as the backend said it.
import { isSystemError } from '../seam/system-error';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type Outcome =
  | { ok: Json }
  | { error: string; syscall: string; index?: number }
  /** Not a system error: only the constructor's name, as messages differ. */
  | { thrown: string };

export type Step = { step: string } & Outcome;

export type ScenarioRecord = Step[];

/** A value as JSON: bigints as "123n", byte arrays as their length and a checksum. */
export function normalise(value: unknown): Json {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  if (value instanceof Uint8Array) return bytes(value);
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value).sort()) out[key] = normalise((value as Record<string, unknown>)[key]);
    return out;
  }
  throw new TypeError(`cannot record a ${typeof value}`);
}

/** Length and FNV-1a hash: equal bytes, equal record. */
export function bytes(view: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < view.length; i++) h = Math.imul(h ^ view[i]!, 0x01000193) >>> 0;
  return `${view.length} bytes fnv1a ${h.toString(16).padStart(8, '0')}`;
}

export function outcomeOf(error: unknown): Outcome {
  if (isSystemError(error)) {
    const index = (error as { index?: unknown }).index;
    return typeof index === 'number' ? { error: error.code, syscall: error.syscall, index } : { error: error.code, syscall: error.syscall };
  }
  return { thrown: error instanceof Error ? error.constructor.name : typeof error };
}

export function describeOutcome(step: Step | undefined): string {
  if (!step) return '(no such step)';
  if ('ok' in step) return `ok ${JSON.stringify(step.ok)}`;
  if ('error' in step) return `${step.error} from ${step.syscall}${step.index === undefined ? '' : ` at request ${step.index}`}`;
  return `threw ${step.thrown}`;
}

export interface Difference {
  /** 0-based index of the first step that differs. */
  index: number;
  label: string;
  a: string;
  b: string;
}

/** The first step where two records differ, or undefined when they agree. */
export function firstDifference(a: ScenarioRecord, b: ScenarioRecord): Difference | undefined {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i], y = b[i];
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    return { index: i, label: x?.step ?? y?.step ?? '?', a: `${x?.step ?? '-'}: ${describeOutcome(x)}`, b: `${y?.step ?? '-'}: ${describeOutcome(y)}` };
  }
  return undefined;
}
