// Runs a suite once per backend. The emulator always runs; native runs where
// the addon loads, under the one skip policy (skip.ts).
import { describe, it } from 'vitest';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import type { Backend } from '../../seam/backend';
import { createEmulator, createNetwork } from '../../emulator';
import { BEHAVIOUR, DEFAULT_KERNEL, KERNELS, kernelOfRelease, type KernelBehaviour, type KernelVersion } from '../../emulator/kernels';
import { loadNative } from '../../src/native';
import { withAdvice } from '../../src/advice';
import { DmaBridge } from '../../src/dmabridge';
import { selfAddress } from './rdmacm-addon';
import { describeNeeds, itNeeds } from './skip';

export interface BackendCase {
  name: 'native' | 'emulator';
  /** A fresh backend: a fresh emulated machine, or the real kernel. */
  create(): Backend;
  /** Where the kernel it answers for (the emulator's 6.12, or the running one) differs from the others. */
  behaviour: KernelBehaviour;
}

/**
 * The running kernel's behaviour: its own where the emulator imitates it,
 * else that of the newest imitated kernel not newer than it.
 */
function runningBehaviour(): KernelBehaviour {
  const exact = kernelOfRelease(release());
  if (exact) return BEHAVIOUR[exact];
  const [major = 0, minor = 0] = release().split(/[.-]/).map(Number);
  const older = KERNELS.filter((k) => { const [a, b] = k.split('.').map(Number); return a! < major || (a === major && b! <= minor); });
  return BEHAVIOUR[(older.at(-1) ?? DEFAULT_KERNEL) as KernelVersion];
}

function selected(): Array<BackendCase['name']> {
  const env = process.env.DMABRIDGE_TEST_BACKENDS;
  return env ? (env.split(',') as Array<BackendCase['name']>) : ['emulator', 'native'];
}

export function describeEachBackend(title: string, body: (b: BackendCase) => void): void {
  for (const name of selected()) {
    if (name === 'emulator') {
      describe(`${title} [emulator]`, () => body({ name, create: () => createEmulator(), behaviour: BEHAVIOUR[DEFAULT_KERNEL] }));
      continue;
    }
    const native = loadNative();
    // Without the addon the suite skips (or fails, in the VM) and create() is never called.
    describeNeeds(native.backend ? null : `the native backend is unavailable: ${native.error}`)(`${title} [native]`, () => body({ name, create: () => native.backend!, behaviour: runningBehaviour() }));
  }
}

/**
 * The kernel interfaces a test needs, by the path that offers them: the
 * table conformance uses. On the emulator they always exist; on native they
 * exist where the kernel has them.
 */
export { DEVICES } from '../../conformance/scenario';

/** `it` for a test of backend `b` that needs `device`: always there on the emulator. */
export function itWith(b: BackendCase, device: string): typeof it {
  return itNeeds(b.name === 'emulator' || existsSync(device) ? null : `${device} absent on this kernel; npm run test:kernel runs it`);
}

/** The public entry object over a backend, as open() makes it: the one way tests make one. */
export function bridgeOn(backend: Backend, reason: string): DmaBridge {
  return new DmaBridge(withAdvice(backend), reason);
}

/** The public entry object over a fresh backend of a backend case. */
export function openOn(b: BackendCase): DmaBridge {
  return bridgeOn(b.create(), `test on ${b.name}`);
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

/**
 * A bridge on a host with a NIC for rdma_cm, and that host's address: on the
 * emulator a machine at 10.99.0.1 on an emulated network; natively the
 * guest's rxe1 in test:kernel.
 */
export function openNetworked(b: BackendCase): { dmb: DmaBridge; host: string } {
  if (b.name === 'native') return { dmb: openOn(b), host: selfAddress()?.host ?? '' };
  const backend = createEmulator({ network: createNetwork(), host: { name: 'a', address: '10.99.0.1' } });
  return { dmb: bridgeOn(backend, 'test on an emulated host'), host: '10.99.0.1' };
}
