// Runs scenarios on the emulator and, where its devices exist, on the native
// backend, and compares the two records step by step.
import { existsSync } from 'node:fs';
import { createEmulator } from '../emulator';
import type { Backend } from '../src/backend';
import { firstDifference, outcomeOf, type Difference, type ScenarioRecord } from './record';
import { DEVICES, type Scenario } from './scenario';
import { Abort, Trial } from './trial';

export interface Run {
  record: ScenarioRecord;
  /** Set when the scenario itself failed (not a call it made): a bug in the scenario, never agreement. */
  broken?: string;
}

export async function runScenario(scenario: Scenario, backend: Backend): Promise<Run> {
  const t = new Trial(backend);
  const before = new Set(backend.openFds());
  let broken: string | undefined;
  try {
    await scenario.run(t);
  } catch (e) {
    if (!(e instanceof Abort)) {
      broken = e instanceof Error ? e.stack ?? e.message : String(e);
      t.record.push({ step: '(scenario body)', ...outcomeOf(e) });
    }
  } finally {
    t.cleanup();
  }
  t.note('fds left open after clean-up', backend.openFds().filter((fd) => !before.has(fd)).length);
  return broken ? { record: t.record, broken } : { record: t.record };
}

/** The devices a scenario needs that this kernel lacks. */
export function missingOnKernel(scenario: Scenario): string[] {
  return scenario.needs.map((d) => DEVICES[d]).filter((path) => !existsSync(path));
}

export interface Result {
  name: string;
  emulator: Run;
  /** The native run, or why there was none. */
  kernel: Run | { notRun: string };
  /** Emulator against the live kernel; undefined when the kernel did not run it. */
  difference?: Difference;
  agree?: boolean;
}

export async function runAll(scenarios: Scenario[], native: Backend | undefined, nativeError = 'native backend unavailable'): Promise<Result[]> {
  const results: Result[] = [];
  for (const scenario of scenarios) {
    const emulator = await runScenario(scenario, createEmulator());
    let kernel: Result['kernel'];
    const missing = native ? missingOnKernel(scenario) : [];
    if (!native) kernel = { notRun: nativeError };
    else if (missing.length) kernel = { notRun: `no ${missing.join(', ')}` };
    else kernel = await runScenario(scenario, native);
    const result: Result = { name: scenario.name, emulator, kernel };
    if ('record' in kernel) {
      result.difference = firstDifference(emulator.record, kernel.record);
      result.agree = !result.difference && !emulator.broken && !kernel.broken;
    }
    results.push(result);
  }
  return results;
}
