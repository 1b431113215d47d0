// Median and spread (min–max) of repeated samples; the runs are few, so
// percentiles would only restate min and max.

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** Runs `fn` warmup + reps times and summarizes what the timed runs returned. */
export function repeat(warmup: number, reps: number, fn: (run: number) => number): Summary {
  for (let i = 0; i < warmup; i++) fn(i - warmup);
  const out: number[] = [];
  for (let i = 0; i < reps; i++) out.push(fn(i));
  return summarize(out);
}

export async function repeatAsync(warmup: number, reps: number, fn: () => Promise<number>): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) out.push(await fn());
  return summarize(out);
}

export function nowNs(): number {
  return Number(process.hrtime.bigint());
}
