// The emulator backend: a fresh emulated machine with one process (more with
// controls().spawn()), behind the same Backend interface as the native addon.
import type { Backend } from '../src/backend';
import type { EmulatorClock } from './clock';
import { DEFAULT_GPU, EmulatedGpu, installCuda } from './cuda';
import { DrmDevice } from './drm';
import { DmaHeap } from './heap';
import { Kernel } from './kernel';
import { Process } from './process';
import { installRdma, RdmaControls } from './rdma/install';
import type { ProfileKind } from './rdma/profiles';
import { UdmabufDevice } from './udmabuf';
import { vgemDriver } from './vgem';

export type { EmulatorClock } from './clock';
export type { EmulatedGpu } from './cuda';
export type { RdmaControls } from './rdma/install';

export interface EmulatorOptions {
  /** Time moves only when a test advances it. Default: with real time. */
  manualClock?: boolean;
  /** Bytes of memory for memfds, heap buffers and GEM objects. Default 1 GiB. */
  memoryLimit?: number;
  /** The GPUs CUDA finds; false: libcuda.so.1 is not installed. Default: one H100 that exports dma-bufs. */
  cuda?: EmulatedGpu[] | false;
  /** The RDMA devices, in the order libibverbs lists them. Default: rxe0, mlx5_0, efa_0. */
  rdma?: ProfileKind[];
}

/** Test hooks on an emulated machine, reached with controls(backend). */
export interface EmulatorControls {
  readonly clock: EmulatorClock;
  readonly rdma: RdmaControls;
  /** Starts another process on the same machine, with no fds open. */
  spawn(): Backend;
}

const machines = new WeakMap<Backend, EmulatorControls>();

export function createEmulator(options: EmulatorOptions = {}): Backend {
  const kernel = new Kernel({ manualClock: options.manualClock ?? false, memoryLimit: options.memoryLimit ?? 2 ** 30 });
  kernel.addDevice('/dev/udmabuf', new UdmabufDevice(kernel, '/dev/udmabuf'));
  kernel.addDevice('/dev/dma_heap/system', new DmaHeap(kernel, 'system'));
  const vgem = new DrmDevice(kernel, vgemDriver(kernel));
  kernel.addDevice('/dev/dri/card0', vgem.node('/dev/dri/card0', false));
  kernel.addDevice('/dev/dri/renderD128', vgem.node('/dev/dri/renderD128', true));
  if (options.cuda !== false) installCuda(kernel, options.cuda ?? [DEFAULT_GPU]);
  const machine: EmulatorControls = {
    clock: kernel.clock,
    rdma: installRdma(kernel, options.rdma ?? ['rxe', 'mlx5', 'efa']),
    spawn: () => {
      const process = new Process(kernel);
      machines.set(process, machine);
      return process;
    },
  };
  return machine.spawn();
}

/** The test hooks of a backend createEmulator made. */
export function controls(backend: Backend): EmulatorControls {
  const found = machines.get(backend);
  if (!found) throw new TypeError(`controls() takes an emulator backend, not the ${backend.name} one`);
  return found;
}
