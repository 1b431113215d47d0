// npm run conformance: every scenario on the emulator and, where the native
// backend and its devices are there, on the real kernel; a table, a JSON
// report, and a non-zero exit for any disagreement.
//
//   node dist/conformance/main.js [--kernel V] [--strict] [--record] [--json FILE] [--only TEXT]
//     --kernel  the kernel the emulator imitates and whose record it is held
//               to (6.12 or 7.3); default: the running one where it is one
//               of those, else 6.12
//     --strict  every scenario must run on the kernel, and the kernel must
//               answer as conformance/kernel-record-<kernel>.json says (test:kernel)
//     --record  write the kernel's records to conformance/kernel-record-<kernel>.json
//     --only    run the scenarios whose name contains TEXT
//     --summary print the totals and failures, not the table
import { mkdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { DEFAULT_KERNEL, KERNELS, kernelOfRelease, type KernelVersion } from '../emulator/kernels';
import { loadNative } from '../src/native';
import { loadKernelRecord, saveKernelRecord } from './kernel-record';
import { firstDifference, type Difference, type ScenarioRecord } from './record';
import { runAll, type Result } from './runner';
import { scenarios } from './scenarios';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const strict = process.argv.includes('--strict');
const record = process.argv.includes('--record');
const jsonPath = resolve(option('--json') ?? '.cache/conformance.json');
const only = option('--only');
const summary = process.argv.includes('--summary');

function at(d: Difference): string {
  return `step ${d.index + 1} "${d.label}"`;
}

async function main(): Promise<number> {
  const chosen = scenarios.filter((s) => !only || s.name.includes(only));
  const names = new Set<string>();
  for (const s of scenarios) {
    if (names.has(s.name)) throw new Error(`two scenarios are named ${s.name}`);
    names.add(s.name);
  }
  const native = loadNative();
  if ((strict || record) && !native.backend) throw new Error(`--strict and --record need the native backend: ${native.error}`);
  const kernel = chooseKernel();
  const results = await runAll(chosen, kernel, native.backend, native.error);
  const committed = loadKernelRecord(kernel);

  const problems: string[] = [];
  const rows: string[][] = [];
  const report = results.map((r: Result) => {
    const kernelRan = 'record' in r.kernel;
    const recorded: ScenarioRecord | undefined = committed?.scenarios[r.name];
    // The emulator against the committed record; the live kernel against it too where it ran.
    const vsRecord = recorded ? firstDifference(r.emulator.record, recorded) : undefined;
    const liveVsRecord = recorded && kernelRan ? firstDifference((r.kernel as { record: ScenarioRecord }).record, recorded) : undefined;
    if (r.emulator.broken) problems.push(`${r.name}: the scenario broke on the emulator:\n${r.emulator.broken}`);
    if (kernelRan && 'broken' in r.kernel && r.kernel.broken) problems.push(`${r.name}: the scenario broke on the kernel:\n${r.kernel.broken}`);
    if (r.difference) problems.push(`${r.name}: emulator and kernel differ at ${at(r.difference)}\n    emulator: ${r.difference.a}\n    kernel:   ${r.difference.b}`);
    if (!kernelRan && (strict || record)) problems.push(`${r.name}: not run on the kernel (${(r.kernel as { notRun: string }).notRun})`);
    if (!record) {
      if (!recorded) problems.push(`${r.name}: not in the kernel record (re-record: see README, Conformance)`);
      else if (vsRecord) problems.push(`${r.name}: emulator differs from the kernel record at ${at(vsRecord)}\n    emulator: ${vsRecord.a}\n    recorded: ${vsRecord.b}`);
      if (strict && liveVsRecord) problems.push(`${r.name}: the live kernel differs from the kernel record at ${at(liveVsRecord)}\n    kernel:   ${liveVsRecord.a}\n    recorded: ${liveVsRecord.b}`);
    }
    const emulator = r.emulator.broken ? 'BROKEN' : `${r.emulator.record.length} steps`;
    const kernel = kernelRan ? (('broken' in r.kernel && r.kernel.broken) ? 'BROKEN' : `${(r.kernel as { record: ScenarioRecord }).record.length} steps`) : `not run: ${(r.kernel as { notRun: string }).notRun}`;
    const agree = r.agree === undefined ? '-' : r.agree ? 'yes' : `NO at ${r.difference ? at(r.difference) : 'a broken scenario'}`;
    const rec = !recorded ? 'not recorded' : vsRecord ? `NO at ${at(vsRecord)}` : 'yes';
    rows.push([r.name, emulator, kernel, agree, rec]);
    return { name: r.name, emulator: r.emulator, kernel: r.kernel, agree: r.agree ?? null, difference: r.difference ?? null, emulatorMatchesRecord: recorded ? !vsRecord : null };
  });

  if (!summary) printTable(['scenario', 'emulator', 'kernel', 'agree', 'kernel record'], rows);
  const ran = results.filter((r) => 'record' in r.kernel).length;
  const agreed = results.filter((r) => r.agree).length;
  const matched = report.filter((r) => r.emulatorMatchesRecord).length;
  console.log(`\n${results.length} scenarios; on the kernel: ${ran} run, ${agreed} agree; the emulator matches the kernel record (${committed?.kernel ?? 'none'}) in ${matched}.`);

  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify({ kernel: ran ? release() : null, native: native.error ?? 'loaded', scenarios: report }, (_, v) => (typeof v === 'bigint' ? `${v}n` : v), 2));
  console.log(`report: ${jsonPath}`);

  const recordable = results.every((r) => 'record' in r.kernel && !r.kernel.broken);
  if (record && recordable) {
    const scenariosOut: Record<string, ScenarioRecord> = {};
    for (const r of results) scenariosOut[r.name] = (r.kernel as { record: ScenarioRecord }).record;
    const merged = only && committed ? { ...committed.scenarios, ...scenariosOut } : scenariosOut;
    console.log(`kernel record: ${saveKernelRecord(kernel, { kernel: release(), recorded: new Date().toISOString().slice(0, 10), scenarios: merged })}`);
  }
  for (const p of problems) console.error(`FAIL ${p}`);
  return problems.length ? 1 : 0;
}

/**
 * The kernel asked for, else the running one where the emulator imitates it,
 * else 6.12. --strict and --record hold the live kernel to a record: it must
 * be the one chosen.
 */
function chooseKernel(): KernelVersion {
  const asked = option('--kernel');
  const running = kernelOfRelease(release());
  const kernel = asked === undefined ? running ?? DEFAULT_KERNEL : KERNELS.find((k) => k === asked);
  if (!kernel) throw new Error(`--kernel ${asked}: the emulator imitates ${KERNELS.join(' and ')}`);
  if ((strict || record) && running !== kernel) throw new Error(`--strict and --record on Linux ${release()} need the kernel the emulator imitates as ${kernel}`);
  return kernel;
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(2);
});
