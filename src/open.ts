import { existsSync } from 'node:fs';
import { withAdvice } from './advice';
import type { Backend } from '../seam/backend';
import { createEmulator } from '../emulator';
import { loadNative } from './native';
import { systemError } from '../seam/system-error';
import { DmaBridge } from './dmabridge';

export type BackendChoice = 'auto' | 'native' | 'emulator';

export interface OpenOptions {
  /**
   * 'native' uses the kernel through the addon; 'emulator' the TypeScript
   * model; 'auto' (default) picks native where the addon loads and the kernel
   * offers dma-buf sources. DMABRIDGE_BACKEND overrides 'auto'.
   */
  backend?: BackendChoice;
}

/** The kernel interfaces whose presence makes 'auto' choose native. */
const NATIVE_SIGNS = ['/dev/udmabuf', '/dev/dma_heap', '/dev/dri'];

export function open(options: OpenOptions = {}): DmaBridge {
  const { backend, reason } = choose(options.backend ?? 'auto');
  return new DmaBridge(withAdvice(backend), reason);
}

function choose(asked: BackendChoice): { backend: Backend; reason: string } {
  const env = process.env.DMABRIDGE_BACKEND;
  let choice = asked;
  let why = 'asked for in open()';
  if (asked === 'auto' && env) {
    if (env !== 'auto' && env !== 'native' && env !== 'emulator') {
      throw systemError('EINVAL', 'open', `DMABRIDGE_BACKEND must be 'auto', 'native' or 'emulator', got '${env}'`);
    }
    choice = env;
    why = `DMABRIDGE_BACKEND=${env}`;
  }
  if (choice === 'emulator') return { backend: createEmulator(), reason: why };
  const native = loadNative();
  if (choice === 'native') {
    if (!native.backend) throw systemError('ENOSYS', 'open', `the native backend is unavailable: ${native.error}`);
    return { backend: native.backend, reason: why };
  }
  if (!native.backend) return { backend: createEmulator(), reason: `native unavailable (${native.error})` };
  const found = NATIVE_SIGNS.filter((p) => existsSync(p));
  if (found.length === 0) {
    return { backend: createEmulator(), reason: `this kernel offers none of ${NATIVE_SIGNS.join(', ')}` };
  }
  return { backend: native.backend, reason: `the kernel offers ${found.join(', ')}` };
}
