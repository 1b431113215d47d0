// The one skip policy. A test that needs what this machine lacks skips, with
// the reason in its name; inside the real-kernel VM (DMABRIDGE_KERNEL_VM=1)
// nothing may skip, so it fails with the reason instead, and a green VM run
// means every native test really ran. The one exception is what the VM lacks
// by design (a GPU): such a test is left out there, not failed.
import { describe, it } from 'vitest';

export const inKernelVm = process.env.DMABRIDGE_KERNEL_VM === '1';

/** `it` for a test that needs what `missing` names (null: nothing is missing). */
export function itNeeds(missing: string | null, options: { absentFromVm?: boolean } = {}): typeof it {
  if (!missing) return it;
  if (inKernelVm && options.absentFromVm) return (() => undefined) as unknown as typeof it;
  if (inKernelVm) return ((name: string) => it(name, () => { throw new Error(`in the kernel VM: ${missing}`); })) as typeof it;
  return ((name: string, fn?: () => unknown, timeout?: number) => it.skip(`${name} (skipped: ${missing})`, fn, timeout)) as typeof it;
}

/** `describe` for a suite that needs what `missing` names: as itNeeds, for all its tests at once. */
export function describeNeeds(missing: string | null): typeof describe {
  if (!missing) return describe;
  if (inKernelVm) {
    return ((name: string) => describe(name, () => it('has what it needs', () => { throw new Error(`in the kernel VM: ${missing}`); }))) as typeof describe;
  }
  return ((name: string, fn?: () => void) => describe.skip(`${name} (skipped: ${missing})`, fn)) as typeof describe;
}
