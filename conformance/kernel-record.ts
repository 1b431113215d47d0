// The committed record of the real kernel's answers (kernel-record.json),
// made in the real-kernel VM with `npm run conformance -- --record`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ScenarioRecord } from './record';

export interface KernelRecord {
  /** uname -r of the kernel that answered. */
  kernel: string;
  recorded: string;
  scenarios: Record<string, ScenarioRecord>;
}

/** conformance/kernel-record.json, from the sources or from dist/. */
export function kernelRecordPath(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return join(dir, 'conformance', 'kernel-record.json');
}

export function loadKernelRecord(): KernelRecord | undefined {
  const path = kernelRecordPath();
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as KernelRecord) : undefined;
}

/** One scenario per line, so a re-record's diff names the scenarios that changed. */
export function saveKernelRecord(record: KernelRecord): string {
  const path = kernelRecordPath();
  const names = Object.keys(record.scenarios).sort();
  const body = names.map((n) => `    ${JSON.stringify(n)}: ${JSON.stringify(record.scenarios[n])}`).join(',\n');
  writeFileSync(path, `{\n  "kernel": ${JSON.stringify(record.kernel)},\n  "recorded": ${JSON.stringify(record.recorded)},\n  "scenarios": {\n${body}\n  }\n}\n`);
  return path;
}
