// Fences a test signals by hand, as sw_sync's would (SW_SYNC is off in the
// Debian 6.12 kernel): on a timeline of their own, with any driver name, put
// into a process as sync_files or onto a dma-buf's reservation object with
// any usage, including the kernel and bookkeep usages user space cannot add.
import type { Backend } from '../seam/backend';
import { DmaBufObject } from './dmabuf';
import { DmaFence } from './fence';
import type { FenceWarning, FenceWatchdog } from './fence-deadline';
import type { FdTable } from './files';
import type { Machine } from './machine';
import { Usage } from './resv';
import { SyncFileObject } from './sync-file';

export type FenceUsage = 'kernel' | 'write' | 'read' | 'bookkeep';

const USAGES: Record<FenceUsage, Usage> = { kernel: Usage.Kernel, write: Usage.Write, read: Usage.Read, bookkeep: Usage.Bookkeep };

export interface TestFence {
  readonly signaled: boolean;
  /** dma_fence_signal; with an errno (a positive number), dma_fence_set_error(-errno) first. */
  signal(errno?: number): void;
  /** A new sync_file holding the fence, installed close-on-exec in the emulated process `backend`. */
  syncFile(backend: Backend): number;
  /** dma_resv_add_fence on the dma-buf at `fd` of `backend`, with `usage`. */
  attach(backend: Backend, fd: number, usage: FenceUsage): void;
}

export interface FenceControls {
  /** The machine's fence deadline: a fence pending longer gets a warning. */
  readonly deadlineMs: number;
  /** Each fence that was still unsignalled past the deadline, in the order they came due. */
  warnings(): readonly FenceWarning[];
  /** A new timeline (a fence context); its fences number from 1. */
  timeline(driver: string, name: string): { fence(): TestFence };
}

type FdsOf = (backend: Backend) => FdTable;

export function fenceControls(machine: Machine, watchdog: FenceWatchdog, fdsOf: FdsOf): FenceControls {
  return {
    deadlineMs: watchdog.deadlineMs,
    warnings: () => [...watchdog.warnings],
    timeline(driver, name) {
      const context = machine.fenceContext();
      let seqno = 0n;
      return { fence: () => testFence(machine, fdsOf, new DmaFence(machine.clock, context, ++seqno, driver, name)) };
    },
  };
}

function testFence(machine: Machine, fdsOf: FdsOf, fence: DmaFence): TestFence {
  return {
    get signaled() {
      return fence.signaled;
    },
    signal(errno) {
      if (errno !== undefined) {
        if (!Number.isInteger(errno) || errno <= 0) throw new RangeError(`errno must be a positive integer, not ${errno}`);
        fence.error = -errno;
      }
      fence.signal();
    },
    syncFile: (backend) => fdsOf(backend).install(SyncFileObject.open(machine, fence), true),
    attach(backend, fd, usage) {
      const object = fdsOf(backend).get(fd)?.file.object;
      if (!(object instanceof DmaBufObject)) throw new TypeError(`fd ${fd} is not a dma-buf`);
      object.resv.add(fence, USAGES[usage]);
    },
  };
}
