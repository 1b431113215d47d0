// Runs scenarios on the emulator and, where its devices exist, on the native
// backend, and compares the two records step by step.
import { existsSync } from 'node:fs';
import { createEmulator, createNetwork } from '../emulator';
import type { Backend } from '../seam/backend';
import { firstDifference, outcomeOf, type Difference, type ScenarioRecord } from './record';
import { DEVICES, NIC_ADDRESS, type Scenario } from './scenario';
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
  const left = backend.openFds().filter((fd) => !before.has(fd));
  t.note('fds left open after clean-up', (scenario.needs.includes('nic') ? left.filter((fd) => !keptByRdmaCm(backend, fd)) : left).length);
  return broken ? { record: t.record, broken } : { record: t.record };
}

/**
 * librdmacm opens a device's context (its uverbs node and async-event fd) once
 * and keeps it for the life of the process; on native, the first rdma_cm
 * scenario opens every device's, so these are no scenario's leak.
 */
function keptByRdmaCm(backend: Backend, fd: number): boolean {
  const name = backend.readlinkFd(fd);
  return /^\/dev\/infiniband\/uverbs\d+$/.test(name) || name === 'anon_inode:[infinibandevent]';
}

/** A fresh emulated machine for the scenario: where it needs the NIC, on a network at the VM's NIC address, with rxe0 and rxe1 as the VM has. */
export function emulatorFor(scenario: Scenario): Backend {
  if (!scenario.needs.includes('nic')) return createEmulator();
  return createEmulator({ rdma: ['rxe'], network: createNetwork(), host: { name: 'vm', address: NIC_ADDRESS } });
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
    const emulator = await runScenario(scenario, emulatorFor(scenario));
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
