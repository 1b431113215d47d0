// vgem (drivers/gpu/drm/vgem): a DRM driver with no hardware, whose test
// fences let user space play the device.
import { systemError } from '../seam/system-error';
import { VGEM_FENCE_WRITE } from '../seam/uapi';
import type { DrmDriver, GemObject } from './drm';
import { DmaFence } from './fence';
import type { Machine } from './machine';
import { Usage, usageRw } from './resv';

/** VGEM_FENCE_TIMEOUT: an unsignalled fence signals itself, without error, after 10 s. */
const VGEM_FENCE_TIMEOUT_MS = 10_000;

export function vgemDriver(machine: Machine): DrmDriver<VgemFile> {
  return {
    // Driver dates are gone (DRM core answers "0"), as seen on 6.12.107.
    version: { name: 'vgem', date: '0', desc: 'Virtual GEM provider', major: 1, minor: 0, patch: 0 },
    open: () => new VgemFile(machine),
    postclose: (priv) => priv.close(),
  };
}

class VgemFence extends DmaFence {
  readonly #disarm: () => void;

  constructor(machine: Machine) {
    super(machine.clock, machine.fenceContext(), 1n, 'vgem', 'unbound');
    this.#disarm = machine.clock.setTimer(VGEM_FENCE_TIMEOUT_MS, () => this.signal());
  }

  override signal(timestampNs?: bigint): void {
    this.#disarm();
    super.signal(timestampNs);
  }
}

/** A vgem file's driver_priv: its fence ids, from 1, never reused. */
export class VgemFile {
  /** idr slots; a signalled fence's slot is emptied, not freed. */
  readonly #fences: Array<VgemFence | undefined> = [];

  constructor(private readonly machine: Machine) {}

  /** vgem_fence_attach_ioctl. */
  attach(obj: GemObject | undefined, flags: number): number {
    const syscall = 'DRM_IOCTL_VGEM_FENCE_ATTACH';
    if (flags & ~VGEM_FENCE_WRITE) throw systemError('EINVAL', syscall);
    if (!obj) throw systemError('ENOENT', syscall);
    const write = (flags & VGEM_FENCE_WRITE) !== 0;
    // The fence exists (with its context and timer) before the conflict check.
    const fence = new VgemFence(this.machine);
    if (obj.resv.pending(usageRw(write)).length > 0) {
      fence.signal();
      throw systemError('EBUSY', syscall);
    }
    obj.resv.add(fence, write ? Usage.Write : Usage.Read);
    this.#fences.push(fence);
    return this.#fences.length;
  }

  /** vgem_fence_signal_ioctl: ETIMEDOUT where the timeout got there first. */
  signal(id: number): void {
    const syscall = 'DRM_IOCTL_VGEM_FENCE_SIGNAL';
    const fence = id >= 1 ? this.#fences[id - 1] : undefined;
    if (!fence) throw systemError('ENOENT', syscall);
    this.#fences[id - 1] = undefined;
    const timedOut = fence.signaled;
    fence.signal();
    if (timedOut) throw systemError('ETIMEDOUT', syscall);
  }

  /** vgem_fence_close: the file's pending fences signal, without error. */
  close(): void {
    for (const fence of this.#fences) fence?.signal();
    this.#fences.length = 0;
  }
}
