// Runs a suite once per backend. The emulator always runs; native runs where
// the addon loads. Inside the real-kernel VM (DMABRIDGE_KERNEL_VM=1) nothing
// may skip: a missing addon or device fails the test instead, so a green VM
// run means every native test really ran.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Backend } from '../../seam/backend';
import { createEmulator } from '../../emulator';
import { loadNative } from '../../src/native';
import { withAdvice } from '../../src/advice';
import { DmaBridge } from '../../src/dmabridge';

export const inKernelVm = process.env.DMABRIDGE_KERNEL_VM === '1';

export interface BackendCase {
  name: 'native' | 'emulator';
  /** A fresh backend: a fresh emulated machine, or the real kernel. */
  create(): Backend;
}

function selected(): Array<BackendCase['name']> {
  const env = process.env.DMABRIDGE_TEST_BACKENDS;
  return env ? (env.split(',') as Array<BackendCase['name']>) : ['emulator', 'native'];
}

export function describeEachBackend(title: string, body: (b: BackendCase) => void): void {
  for (const name of selected()) {
    if (name === 'emulator') {
      describe(`${title} [emulator]`, () => body({ name, create: () => createEmulator() }));
      continue;
    }
    const native = loadNative();
    if (native.backend) {
      const backend = native.backend;
      describe(`${title} [native]`, () => body({ name, create: () => backend }));
    } else if (inKernelVm) {
      describe(`${title} [native]`, () => {
        it('loads the native addon', () => {
          throw new Error(`native backend unavailable in the kernel VM: ${native.error}`);
        });
      });
    } else {
      describe.skip(`${title} [native] skipped: ${native.error}`, () => body({ name, create: () => { throw new Error('unreachable'); } }));
    }
  }
}

/**
 * The kernel interfaces a test needs, by the path that offers them: the
 * table conformance uses. On the emulator they always exist; on native they
 * exist where the kernel has them.
 */
export { DEVICES } from '../../conformance/scenario';

/**
 * `it` that skips, with the reason in its name, when the native backend lacks
 * a device; in the kernel VM a missing device fails instead.
 */
export function itWith(b: BackendCase, device: string): typeof it {
  if (b.name === 'emulator' || existsSync(device)) return it;
  if (inKernelVm) {
    return ((name: string) => it(name, () => { throw new Error(`${device} missing in the kernel VM`); })) as typeof it;
  }
  return ((name: string, fn?: unknown) => it.skip(`${name} (skipped: ${device} absent on this kernel; npm run test:kernel runs it)`, fn as () => void)) as typeof it;
}

/** The public entry object over a backend, as open() makes it: the one way tests make one. */
export function bridgeOn(backend: Backend, reason: string): DmaBridge {
  return new DmaBridge(withAdvice(backend), reason);
}

/** The public entry object over a fresh backend of a backend case. */
export function openOn(b: BackendCase): DmaBridge {
  return bridgeOn(b.create(), `test on ${b.name}`);
}

/** Calls `fn`, expects it to throw the system error (code, errno, syscall), and returns the error. */
export function expectSystemError(fn: () => unknown, code: string, errno: number, syscall: string): Error {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(Error);
  expect(error).toMatchObject({ code, errno: -errno, syscall });
  return error as Error;
}

/**
 * Collects garbage (vitest runs with --expose-gc). Without `settle` it
 * returns before any finalizer has run; with it, after they have.
 */
export async function collectGarbage(settle: boolean): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (vitest.config.ts sets it)');
  // Objects a WeakRef was made for live until the current job ends.
  await new Promise((r) => setImmediate(r));
  gc();
  if (settle) {
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
  }
}
