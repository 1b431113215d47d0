// dmabridge/emulator: emulated machines behind the same Backend interface as
// the native addon, and the test hooks that drive them.
//
// open({ backend: 'emulator' }) uses one machine per Node process, and one
// process of it, as open() on the kernel does: every such open() sees the same
// devices, fds and sockets. createEmulator() makes an isolated machine (its
// first process); open({ backend: createEmulator(...) }) opens a DmaBridge on
// it, and controls(dmb) drives the machine a DmaBridge was opened on.
//
// Several machines in one test: createNetwork() makes a network (one subnet,
// 10.99.0.0/24 unless told, one clock, one RDMA fabric), and each
// createEmulator({ network, host: { name: 'a', address: '10.99.0.1' } }) is a
// machine on it: rxe0 on lo (127.0.0.1) as ever, plus a NIC at its address
// with rxe1 on it (GID ::ffff:10.99.0.1), as the two-guest VM has them.
// rdma_cm routes 127.0.0.1 to rxe0 and the subnet to rxe1; RDMA between
// machines moves bytes between their registered memory; and
// controls(b).network.unplug('b') pulls machine b's cable.
import { type Backend, innermost } from '../seam/backend';
import type { EmulatorClock } from './clock';
import { DEFAULT_GPU, EmulatedGpu, installCuda } from './cuda';
import { DrmDeviceObject } from './drm';
import { FenceControls, fenceControls } from './fence-controls';
import { DEFAULT_FENCE_DEADLINE_MS, FenceWatchdog } from './fence-deadline';
import { DmaHeap } from './heap';
import { DEFAULT_KERNEL, type KernelVersion } from './kernels';
import { Machine } from './machine';
import type { Network, NetworkControls } from './network';
import { Process } from './process';
import type { FdsOf, ProcessRef } from './process-ref';
import { installRdma, RdmaControls } from './verbs/install';
import { MmControls, mmControls } from './verbs/odp';
import type { ProfileKind } from './verbs/profiles';
import { HostOptions, installRdmaCm } from './rdmacm/install';
import { UdmabufDevice } from './udmabuf';
import { vgemDriver } from './vgem';
import { DEFAULT_VRAM, EmulatedVram, installVram, VramControls } from './vram';

export type { EmulatorClock } from './clock';
export type { ProcessRef } from './process-ref';
export type { EmulatedGpu } from './cuda';
export type { RdmaControls } from './verbs/install';
export { createNetwork } from './network';
export type { Network, NetworkControls, NetworkOptions } from './network';
export type { HostOptions } from './rdmacm/install';
export type { FenceControls, FenceUsage, TestFence } from './fence-controls';
export type { FenceWarning } from './fence-deadline';
export { KERNELS, type KernelVersion } from './kernels';
export type { MmControls } from './verbs/odp';
export type { DeviceBuffer, EmulatedVram, VramControls } from './vram';

export interface EmulatorOptions {
  /** The Linux version whose answers it gives where versions differ (README, Two kernels). Default 6.12. */
  kernel?: KernelVersion;
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

/** An fd of a process, and what readlink(/proc/<pid>/fd/<fd>) shows for it. */
export interface OpenFd {
  fd: number;
  /** E.g. '/dmabuf:frames', 'anon_inode:sync_file', '/memfd:dmabridge (deleted)', 'socket:[1042]'. */
  target: string;
}

/**
 * Test hooks on an emulated machine, reached with controls(dmb) or
 * controls(backend). Where a hook names a process, it takes a DmaBridge
 * opened on it or its backend.
 */
export interface EmulatorControls {
  /** The machine's CLOCK_MONOTONIC: advance(ms) fires the timers that fall due (with createEmulator({ manualClock: true }), time moves only so). */
  readonly clock: EmulatorClock;
  /** RDMA devices by name: device('rxe0').setPortState('down'), .mr(lkey) shows an MR's state. */
  readonly rdma: RdmaControls;
  /** Device memory by name: vram('amdgpu0').export(dmb, size) gives the process a dma-buf of it, to evict, restore or revoke. */
  vram(name: string): VramControls;
  /** Changes to process memory that on-demand MRs mirror: invalidate, unmap, remap. */
  readonly mm: MmControls;
  /** Fences signalled by hand, and the warnings for fences left pending past the deadline. */
  readonly fences: FenceControls;
  /** The network the machine is on: network.unplug(name) pulls a machine's cable. */
  readonly network: NetworkControls;
  /**
   * Starts another process on the same machine, with no fds open:
   * open({ backend: controls(dmb).spawn() }). It runs as the machine's first
   * process does unless `options` say otherwise.
   */
  spawn(options?: SpawnOptions): Backend;
  /** Ends a process of this machine abruptly, as SIGKILL does: the kernel closes every fd it had open. */
  kill(process: ProcessRef): void;
  /** The memory a process's MRs pin: VmPin of /proc/<pid>/status. */
  pinnedBytes(process: ProcessRef): number;
  /** The fds a process has open, in order: ls -l /proc/<pid>/fd. */
  openFds(process: ProcessRef): OpenFd[];
}

/** Who a spawned process runs as, as `setpriv --reuid --regid --groups` and `prlimit --nofile` would start it. */
export interface SpawnOptions {
  uid?: number;
  gid?: number;
  /** Supplementary groups. Default none. */
  groups?: number[];
  /** RLIMIT_NOFILE: fd numbers from this one on are not given out by recvmsg (the only call that checks it here). */
  nofile?: number;
}

const controlsOf = new WeakMap<Process, EmulatorControls>();

/** An isolated emulated machine; returns its first process, to open({ backend }) on. */
export function createEmulator(options: EmulatorOptions = {}): Backend {
  const machine = new Machine({
    version: options.kernel ?? DEFAULT_KERNEL,
    manualClock: options.manualClock ?? false, memoryLimit: options.memoryLimit ?? 2 ** 30, clock: options.network?.clock,
  });
  machine.addDevice('/dev/udmabuf', new UdmabufDevice(machine, '/dev/udmabuf'));
  machine.addDevice('/dev/dma_heap/system', new DmaHeap(machine, 'system'));
  const vgem = new DrmDeviceObject(machine, vgemDriver(machine));
  machine.addDevice('/dev/dri/card0', vgem.node('/dev/dri/card0', false));
  machine.addDevice('/dev/dri/renderD128', vgem.node('/dev/dri/renderD128', true));
  if (options.cuda !== false) installCuda(machine, options.cuda ?? [DEFAULT_GPU]);
  const watchdog = new FenceWatchdog(machine.clock, options.fenceDeadlineMs ?? DEFAULT_FENCE_DEADLINE_MS);
  const processOf = (ref: ProcessRef): Process => {
    const process = processOfRef(ref);
    if (!process || controlsOf.get(process) !== hooks) {
      throw new TypeError('the process must be one of this emulated machine: a DmaBridge opened on it, or a backend of createEmulator() or spawn()');
    }
    return process;
  };
  const fdsOf: FdsOf = (ref) => processOf(ref).fdTable;
  // The first process is this Node process as the kernel sees it (its pid, uid and gid); others count on from its pid.
  const user = { uid: process.getuid?.() ?? 1000, gid: process.getgid?.() ?? 1000 };
  let nextPid = process.pid;
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
    spawn: (spawnOptions = {}) => {
      const { uid = user.uid, gid = user.gid, groups = [], nofile } = spawnOptions;
      const child = new Process(machine, { pid: nextPid++, uid, gid, groups: [...groups] }, nofile);
      controlsOf.set(child, hooks);
      return child;
    },
    kill: (ref) => {
      // As exit does: every fd closes, a library's and watched ones too.
      const fds = fdsOf(ref);
      for (const fd of fds.fds()) fds.close(fd);
    },
    pinnedBytes: (ref) => processOf(ref).pinnedBytes,
    openFds: (ref) => {
      const process = processOf(ref);
      return process.openFds().map((fd) => ({ fd, target: process.readlinkFd(fd) }));
    },
  };
  return hooks.spawn();
}

let shared: Backend | undefined;

/** The machine of open({ backend: 'emulator' }): one per Node process, made on first use, and its one process. */
export function sharedEmulator(): Backend {
  shared ??= createEmulator();
  return shared;
}

/** The test hooks of the emulated machine `process` (a DmaBridge opened on it, or its backend) runs on. */
export function controls(process: ProcessRef): EmulatorControls {
  const found = controlsOf.get(processOfRef(process)!);
  if (found) return found;
  const name = 'seam' in process ? process.seam.name : process.name;
  throw new TypeError(`controls() takes a DmaBridge opened on the emulator, or an emulator backend; this one is ${name}`);
}

function processOfRef(ref: ProcessRef): Process | undefined {
  const backend = innermost('seam' in ref ? ref.seam : ref);
  return backend instanceof Process ? backend : undefined;
}
