// The emulator backend: a fresh emulated machine with one process (more with
// controls().spawn()), behind the same Backend interface as the native addon.
//
// Several machines in one test: createNetwork() makes a network (one subnet,
// 10.99.0.0/24 unless told, one clock, one RDMA fabric), and each
// createEmulator({ network, host: { name: 'a', address: '10.99.0.1' } }) is a
// machine on it: rxe0 on lo (127.0.0.1) as ever, plus a NIC at its address
// with rxe1 on it (GID ::ffff:10.99.0.1), as the two-guest VM has them.
// rdma_cm routes 127.0.0.1 to rxe0 and the subnet to rxe1; RDMA between
// machines moves bytes between their registered memory; and
// controls(b).network.unplug('b') pulls machine b's cable.
import type { Backend } from '../seam/backend';
import type { EmulatorClock } from './clock';
import { DEFAULT_GPU, EmulatedGpu, installCuda } from './cuda';
import { DrmDeviceObject } from './drm';
import { FenceControls, fenceControls } from './fence-controls';
import { DEFAULT_FENCE_DEADLINE_MS, FenceWatchdog } from './fence-deadline';
import type { FdTable } from './files';
import { DmaHeap } from './heap';
import { Machine } from './machine';
import type { Network, NetworkControls } from './network';
import { Process } from './process';
import { installRdma, RdmaControls } from './verbs/install';
import { MmControls, mmControls } from './verbs/odp';
import type { ProfileKind } from './verbs/profiles';
import { HostOptions, installRdmaCm } from './rdmacm/install';
import { UdmabufDevice } from './udmabuf';
import { vgemDriver } from './vgem';
import { DEFAULT_VRAM, EmulatedVram, installVram, VramControls } from './vram';

export type { EmulatorClock } from './clock';
export type { EmulatedGpu } from './cuda';
export type { RdmaControls } from './verbs/install';
export { createNetwork } from './network';
export type { Network, NetworkControls, NetworkOptions } from './network';
export type { HostOptions } from './rdmacm/install';
export type { FenceControls, FenceUsage, TestFence } from './fence-controls';
export type { FenceWarning } from './fence-deadline';
export type { MmControls } from './verbs/odp';
export type { DeviceBuffer, EmulatedVram, VramControls } from './vram';

export interface EmulatorOptions {
  /** Time moves only when a test advances it. Default: with real time. */
  manualClock?: boolean;
  /** Bytes of memory for memfds, heap buffers and GEM objects. Default 1 GiB. */
  memoryLimit?: number;
  /** The GPUs CUDA finds; false: libcuda.so.1 is not installed. Default: one H100 that exports dma-bufs. */
  cuda?: EmulatedGpu[] | false;
  /** The RDMA devices, in the order libibverbs lists them. Default: rxe0, mlx5_0, efa_0. */
  rdma?: ProfileKind[];
  /**
   * The network the machine joins (createNetwork()): it gets a NIC at
   * `host.address` with rxe1 on it, after the devices of `rdma`, and shares
   * the network's clock (`manualClock` is the network's then).
   */
  network?: Network;
  /** Its name and address on `network`. */
  host?: HostOptions;
  /** Device memory that exports dma-bufs. Default: amdgpu0 (movable VRAM) and hl0 (pinned), 16 MiB each. */
  vram?: EmulatedVram[];
  /** How long a fence may stay unsignalled before the machine records a warning. Default 10 s. */
  fenceDeadlineMs?: number;
}

/** Test hooks on an emulated machine, reached with controls(backend). */
export interface EmulatorControls {
  readonly clock: EmulatorClock;
  readonly rdma: RdmaControls;
  /** Device memory by name: vram('amdgpu0').export(backend, size) gives the process a dma-buf of it. */
  vram(name: string): VramControls;
  /** Changes to process memory that on-demand MRs mirror: invalidate, unmap, remap. */
  readonly mm: MmControls;
  /** Fences signalled by hand, and the warnings for fences left pending past the deadline. */
  readonly fences: FenceControls;
  /** The network the machine is on: network.unplug(name) pulls a machine's cable. */
  readonly network: NetworkControls;
  /** Starts another process on the same machine, with no fds open. */
  spawn(): Backend;
  /** Ends a process of this machine abruptly, as SIGKILL does: the kernel closes every fd it had open. */
  kill(process: Backend): void;
  /** The memory a process's MRs pin: VmPin of /proc/<pid>/status. */
  pinnedBytes(process: Backend): number;
}

const controlsOf = new WeakMap<Backend, EmulatorControls>();

export function createEmulator(options: EmulatorOptions = {}): Backend {
  const machine = new Machine({
    manualClock: options.manualClock ?? false, memoryLimit: options.memoryLimit ?? 2 ** 30, clock: options.network?.clock,
  });
  machine.addDevice('/dev/udmabuf', new UdmabufDevice(machine, '/dev/udmabuf'));
  machine.addDevice('/dev/dma_heap/system', new DmaHeap(machine, 'system'));
  const vgem = new DrmDeviceObject(machine, vgemDriver(machine));
  machine.addDevice('/dev/dri/card0', vgem.node('/dev/dri/card0', false));
  machine.addDevice('/dev/dri/renderD128', vgem.node('/dev/dri/renderD128', true));
  if (options.cuda !== false) installCuda(machine, options.cuda ?? [DEFAULT_GPU]);
  const watchdog = new FenceWatchdog(machine.clock, options.fenceDeadlineMs ?? DEFAULT_FENCE_DEADLINE_MS);
  /** The fd table of a process of this machine. */
  const fdsOf = (backend: Backend): FdTable => {
    if (!(backend instanceof Process) || controlsOf.get(backend) !== hooks) {
      throw new TypeError('the backend must be a process of this emulated machine (createEmulator() or spawn())');
    }
    return backend.fdTable;
  };
  const vram = installVram(machine, options.vram ?? DEFAULT_VRAM, fdsOf);
  const rdma = installRdma(machine, options.rdma ?? ['rxe', 'mlx5', 'efa'], options.network?.fabric);
  installRdmaCm(machine, rdma, options.network, options.host);
  const hooks: EmulatorControls = {
    clock: machine.clock,
    rdma,
    get network(): NetworkControls {
      if (!options.network) throw new TypeError('the emulated machine is on no network (createEmulator({ network, host }))');
      return options.network;
    },
    vram: (name) => {
      const found = vram.get(name);
      if (!found) throw new TypeError(`the emulated machine has no device memory '${name}' (it has ${[...vram.keys()].join(', ') || 'none'})`);
      return found;
    },
    mm: mmControls,
    fences: fenceControls(machine, watchdog, fdsOf),
    spawn: () => {
      const process = new Process(machine);
      controlsOf.set(process, hooks);
      return process;
    },
    kill: (process) => {
      fdsOf(process);
      for (const fd of process.openFds()) process.close(fd);
    },
    pinnedBytes: (process) => {
      fdsOf(process);
      return (process as Process).pinnedBytes;
    },
  };
  return hooks.spawn();
}

/** The test hooks of a backend createEmulator made. */
export function controls(backend: Backend): EmulatorControls {
  const found = controlsOf.get(backend);
  if (!found) throw new TypeError(`controls() takes an emulator backend, not the ${backend.name} one`);
  return found;
}
