// A scenario: a named, short sequence of calls on the Backend seam, and the
// kernel devices it needs (a native run without them does not run it).
import type { Trial } from './trial';

/** Where the native kernel offers each device; the emulator offers all. */
export const DEVICES = {
  udmabuf: '/dev/udmabuf',
  heap: '/dev/dma_heap/system',
  /** vgem is a module: loaded where this exists (/dev/dri alone may be a real GPU). */
  vgem: '/sys/module/vgem',
  rxe: '/sys/class/infiniband/rxe0',
  /** rxe on the guest's NIC, at NIC_ADDRESS (test:kernel boots with --net): what rdma_cm connects over. */
  nic: '/sys/class/infiniband/rxe1',
} as const;

/** The NIC's address in the kernel VM, and the emulated machine's for scenarios that need the NIC. */
export const NIC_ADDRESS = '10.99.0.1';

export type Device = keyof typeof DEVICES;

export interface Scenario {
  /** "<area>/<what it checks>", unique. */
  name: string;
  needs: Device[];
  run(t: Trial): void | Promise<void>;
}

/** Collects an area's scenarios under its prefix. */
export function area(prefix: string): { list: Scenario[]; add(name: string, needs: Device[], run: Scenario['run']): void } {
  const list: Scenario[] = [];
  return { list, add: (name, needs, run) => void list.push({ name: `${prefix}/${name}`, needs, run }) };
}
