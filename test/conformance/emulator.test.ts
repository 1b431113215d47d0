// The emulator against the real kernel's committed answers: every conformance
// scenario runs on a fresh emulated machine (on a network at the VM's NIC
// address where it needs the NIC) and must record, step by step,
// what Linux 6.12 recorded in the VM (conformance/kernel-record.json; re-record
// with `scripts/vm/run.sh --id conf -- node dist/conformance/main.js --record`).
import { describe, expect, it } from 'vitest';
import { loadKernelRecord } from '../../conformance/kernel-record';
import { firstDifference } from '../../conformance/record';
import { emulatorFor, runScenario } from '../../conformance/runner';
import { scenarios } from '../../conformance/scenarios';
import { itNeeds } from '../support/skip';

const committed = loadKernelRecord();

describe(`conformance: the emulator answers as ${committed?.kernel ?? 'the kernel'} did`, () => {
  it('has a kernel record for every scenario, and no record for a scenario that is gone', () => {
    expect(committed, 'conformance/kernel-record.json is missing').toBeDefined();
    const names = scenarios.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(Object.keys(committed!.scenarios).sort()).toEqual([...names].sort());
  });

  for (const scenario of scenarios) {
    const recorded = committed?.scenarios[scenario.name];
    itNeeds(recorded ? null : 'the kernel has not answered it yet (conformance/kernel-record.json)')(scenario.name, async () => {
      const run = await runScenario(scenario, emulatorFor(scenario));
      expect(run.broken, 'the scenario itself failed').toBeUndefined();
      const d = firstDifference(run.record, recorded!);
      if (d) expect.fail(`first differing step: ${d.index + 1} "${d.label}"\n  emulator: ${d.a}\n  kernel:   ${d.b}`);
    });
  }
});
