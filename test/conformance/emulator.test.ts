// The emulator against the real kernels' committed answers: every conformance
// scenario runs on a fresh emulated machine imitating each kernel (on a
// network at the VM's NIC address where it needs the NIC) and must record,
// step by step, what that kernel recorded in the VM
// (conformance/kernel-record-<version>.json; re-record with
// `scripts/vm/run.sh --kernel <version> --id conf -- node dist/conformance/main.js --record`).
import { describe, expect, it } from 'vitest';
import { KERNELS } from '../../emulator/kernels';
import { loadKernelRecord } from '../../conformance/kernel-record';
import { firstDifference } from '../../conformance/record';
import { emulatorFor, runScenario } from '../../conformance/runner';
import { scenarios } from '../../conformance/scenarios';
import { itNeeds } from '../support/skip';

for (const kernel of KERNELS) {
  const committed = loadKernelRecord(kernel);

  describe(`conformance: the emulator as ${kernel} answers as ${committed?.kernel ?? 'the kernel'} did`, () => {
    it('has a kernel record for every scenario, and no record for a scenario that is gone', () => {
      expect(committed, `conformance/kernel-record-${kernel}.json is missing`).toBeDefined();
      const names = scenarios.map((s) => s.name);
      expect(new Set(names).size).toBe(names.length);
      expect(Object.keys(committed!.scenarios).sort()).toEqual([...names].sort());
    });

    for (const scenario of scenarios) {
      const recorded = committed?.scenarios[scenario.name];
      itNeeds(recorded ? null : `the kernel has not answered it yet (conformance/kernel-record-${kernel}.json)`)(scenario.name, async () => {
        const run = await runScenario(scenario, emulatorFor(scenario, kernel));
        expect(run.broken, 'the scenario itself failed').toBeUndefined();
        const d = firstDifference(run.record, recorded!);
        if (d) expect.fail(`first differing step: ${d.index + 1} "${d.label}"\n  emulator: ${d.a}\n  kernel:   ${d.b}`);
      });
    }
  });
}
