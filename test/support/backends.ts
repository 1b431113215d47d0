// Runs a suite once per backend. The emulator always runs; native runs where
// the addon loads, under the one skip policy (skip.ts).
import { describe, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Backend } from '../../seam/backend';
import { createEmulator } from '../../emulator';
import { loadNative } from '../../src/native';
import { withAdvice } from '../../src/advice';
import { DmaBridge } from '../../src/dmabridge';
import { describeNeeds, itNeeds } from './skip';

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
    // Without the addon the suite skips (or fails, in the VM) and create() is never called.
    describeNeeds(native.backend ? null : `the native backend is unavailable: ${native.error}`)(`${title} [native]`, () => body({ name, create: () => native.backend! }));
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
