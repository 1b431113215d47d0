// The committed records of the real kernels' answers, one per kernel
// (kernel-record-<version>.json), each made in the real-kernel VM booted with
// that kernel: `scripts/vm/run.sh --kernel 7.3 -- node dist/conformance/main.js --record`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KernelVersion } from '../emulator/kernels';
import type { ScenarioRecord } from './record';

export interface KernelRecord {
  /** uname -r of the kernel that answered. */
  kernel: string;
  recorded: string;
  scenarios: Record<string, ScenarioRecord>;
}

/** conformance/kernel-record-<kernel>.json, from the sources or from dist/. */
export function kernelRecordPath(kernel: KernelVersion): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return join(dir, 'conformance', `kernel-record-${kernel}.json`);
}

export function loadKernelRecord(kernel: KernelVersion): KernelRecord | undefined {
  const path = kernelRecordPath(kernel);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as KernelRecord) : undefined;
}

/** One scenario per line, so a re-record's diff names the scenarios that changed. */
export function saveKernelRecord(kernel: KernelVersion, record: KernelRecord): string {
  const path = kernelRecordPath(kernel);
  const names = Object.keys(record.scenarios).sort();
  const body = names.map((n) => `    ${JSON.stringify(n)}: ${JSON.stringify(record.scenarios[n])}`).join(',\n');
  writeFileSync(path, `{\n  "kernel": ${JSON.stringify(record.kernel)},\n  "recorded": ${JSON.stringify(record.recorded)},\n  "scenarios": {\n${body}\n  }\n}\n`);
  return path;
}
