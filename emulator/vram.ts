// Device memory that exports as dma-bufs, in the two ways seed 001 contrasts.
//
// 'movable' is a GPU's VRAM managed as amdgpu's TTM manages it: buffers are
// evicted to system memory (GTT) when VRAM runs out, least recently used
// first, and moved back when the GPU needs them; each move tells dynamic
// importers (dma_buf_move_notify). Pinning (amdgpu_dma_buf_pin) moves the
// buffer to GTT first, so a pinned importer reaches it through system memory,
// not peer-to-peer; a pinned buffer is never evicted. Its dma-bufs show
// exp_name 'drm' (drm_gem_prime_export's "white lie").
//
// 'pinned' is device memory that never moves (habanalabs): its dma-buf ops
// have no pin, every importer reaches it peer-to-peer, and an allocation past
// the capacity fails at once.
//
// Neither offers a CPU mapping here (mmap answers EINVAL); the GPU's own
// reads and writes are test hooks.
import type { Backend } from '../seam/backend';
import { systemErrorWhy } from '../seam/system-error';
import { O_RDWR, PAGE_SIZE } from '../seam/uapi';
import { DmaBufObject, Exporter } from './dmabuf';
import type { FdTable } from './files';
import type { Machine } from './machine';

export interface EmulatedVram {
  name: string;
  kind: 'movable' | 'pinned';
  /** Bytes of device memory. */
  capacity: number;
}

export const DEFAULT_VRAM: EmulatedVram[] = [
  { name: 'amdgpu0', kind: 'movable', capacity: 16 << 20 },
  { name: 'hl0', kind: 'pinned', capacity: 16 << 20 },
];

type Domain = 'vram' | 'system';

/** What a stale mapping reads: the bytes a move left behind are not the buffer's any more. */
const POISON = 0xdd;

class Vram {
  used = 0;
  /** Buffers in VRAM, least recently used first: TTM's LRU. */
  readonly lru: BufferObject[] = [];

  constructor(readonly machine: Machine, readonly spec: EmulatedVram) {}

  get movable(): boolean {
    return this.spec.kind === 'movable';
  }

  /**
   * Room for `size` bytes (ttm_bo_mem_space): evicts unpinned buffers, least
   * recently used first, and fails with ENOMEM where what is left cannot be
   * evicted. Buffers evicted before the failure stay evicted.
   */
  makeRoom(size: number, syscall: string): void {
    while (this.spec.capacity - this.used < size) {
      const victim = this.movable ? this.lru.find((bo) => bo.pins === 0) : undefined;
      if (!victim || !victim.moveTo('system')) {
        throw systemErrorWhy('ENOMEM', syscall, `${this.spec.name} has no room left that can be evicted`);
      }
    }
  }

  touch(bo: BufferObject): void {
    const at = this.lru.indexOf(bo);
    if (at >= 0) this.lru.splice(at, 1);
    if (bo.domain === 'vram') this.lru.push(bo);
  }
}

/** A buffer object of device memory and the exporter of its dma-buf. */
class BufferObject implements Exporter {
  readonly expName: string;
  domain: Domain = 'vram';
  pins = 0;
  moves = 0;
  #store: Uint8Array;
  /** Revoked: its memory went back to the device. */
  gone = false;
  dmaBuf!: DmaBufObject;
  /** Only movable memory has dma_buf_ops.pin: memory that never moves needs none. */
  pin?: () => boolean;
  unpin?: () => void;

  constructor(readonly vram: Vram, readonly size: number) {
    this.expName = vram.movable ? 'drm' : 'habanalabs';
    this.#store = new Uint8Array(size);
    vram.used += size;
    vram.touch(this);
    if (vram.movable) {
      this.pin = () => this.#pin();
      this.unpin = () => void this.pins--;
    }
  }

  placement(): 'system' | 'device' {
    return this.domain === 'vram' ? 'device' : 'system';
  }

  pages(): Uint8Array[] {
    return [this.#store];
  }

  get bytes(): Uint8Array {
    if (this.gone) throw new Error(`the ${this.vram.spec.name} buffer was revoked: its memory is gone`);
    return this.#store;
  }

  /** amdgpu_dma_buf_pin in 6.12: into GTT, then it stays (from 6.15 it may stay in VRAM where every importer can do P2P). */
  #pin(): boolean {
    if (this.domain === 'vram' && !this.moveTo('system')) return false;
    this.pins++;
    return true;
  }

  /** A TTM move: the bytes are copied to the new place, and dynamic importers are told. False where there is no room. */
  moveTo(domain: Domain): boolean {
    if (domain === this.domain) return true;
    const { machine } = this.vram;
    if (domain === 'system') {
      if (!machine.memory.charge(this.size)) return false;
      this.vram.used -= this.size;
    } else {
      this.vram.used += this.size;
      machine.memory.uncharge(this.size);
    }
    const next = Uint8Array.from(this.#store);
    this.#store.fill(POISON);
    this.#store = next;
    this.domain = domain;
    this.moves++;
    this.vram.touch(this);
    this.dmaBuf.moveNotify();
    return true;
  }

  /** Gives the memory back to where it came from; its importers were told first. */
  free(): void {
    if (this.gone) return;
    this.gone = true;
    if (this.domain === 'vram') this.vram.used -= this.size;
    else this.vram.machine.memory.uncharge(this.size);
    this.domain = 'system';
    this.vram.touch(this);
  }

  release(): void {
    this.free();
  }
}

/** A device buffer exported into a process, as a test holds it. */
export interface DeviceBuffer {
  /** The dma-buf's fd in the process it was exported into. */
  readonly fd: number;
  readonly size: number;
  /** Where its memory is now. */
  readonly domain: Domain;
  /** Whether an importer holds it pinned. */
  readonly pinned: boolean;
  /** How often it has moved. */
  readonly moves: number;
  /** Memory pressure: to system memory. False, moving nothing, where the kernel would not evict it (pinned, or device memory that never moves). */
  evict(): boolean;
  /** The GPU needs it: back into VRAM, evicting others if need be (ENOMEM where nothing can go). False where it cannot move (pinned in system memory, or never moves). */
  restore(): boolean;
  /** The exporter takes the memory back for good: every importer loses it. */
  revoke(): void;
  /** The GPU's own access to its memory, wherever it is now. */
  read(offset: number, length: number): Uint8Array;
  write(offset: number, bytes: Uint8Array): void;
}

/** What controls(backend).vram(name) offers a test. */
export interface VramControls {
  readonly name: string;
  readonly kind: EmulatedVram['kind'];
  readonly capacity: number;
  /** Bytes of device memory in use. */
  readonly used: number;
  /**
   * Allocates `size` bytes of device memory (VRAM only: amdgpu's GTT fallback
   * is not modelled) and exports it as a dma-buf (O_RDWR, close-on-exec) into
   * the emulated process `backend`; fails with ENOMEM as the driver would.
   */
  export(backend: Backend, size: number): DeviceBuffer;
}

type FdsOf = (backend: Backend) => FdTable;

export function installVram(machine: Machine, specs: EmulatedVram[], fdsOf: FdsOf): Map<string, VramControls> {
  return new Map(specs.map((spec) => [spec.name, vramControls(new Vram(machine, { ...spec }), fdsOf)]));
}

function vramControls(vram: Vram, fdsOf: FdsOf): VramControls {
  const syscall = vram.movable ? 'DRM_IOCTL_AMDGPU_GEM_CREATE' : 'HL_IOCTL_MEMORY';
  return {
    name: vram.spec.name,
    kind: vram.spec.kind,
    capacity: vram.spec.capacity,
    get used() {
      return vram.used;
    },
    export(backend, size) {
      const fds = fdsOf(backend);
      if (!Number.isInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
        throw new RangeError(`size must be a positive multiple of ${PAGE_SIZE} bytes, not ${size}`);
      }
      vram.makeRoom(size, syscall);
      const bo = new BufferObject(vram, size);
      bo.dmaBuf = new DmaBufObject(vram.machine, { exporter: bo, size: BigInt(size), flags: O_RDWR });
      return deviceBuffer(bo, fds.install(bo.dmaBuf.file, true));
    },
  };
}

function deviceBuffer(bo: BufferObject, fd: number): DeviceBuffer {
  const { vram } = bo;
  const check = (offset: number, length: number) => {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bo.size) {
      throw new RangeError(`[${offset}, ${offset + length}) is not inside the ${bo.size}-byte buffer`);
    }
  };
  return {
    fd,
    size: bo.size,
    get domain() {
      return bo.domain;
    },
    get pinned() {
      return !vram.movable || bo.pins > 0;
    },
    get moves() {
      return bo.moves;
    },
    evict: () => vram.movable && !bo.gone && bo.pins === 0 && bo.domain === 'vram' && bo.moveTo('system'),
    restore: () => {
      if (!vram.movable || bo.gone || bo.pins > 0) return bo.domain === 'vram' && !bo.gone;
      if (bo.domain === 'system') {
        vram.makeRoom(bo.size, 'amdgpu_cs_validate');
        bo.moveTo('vram');
      }
      vram.touch(bo);
      return true;
    },
    revoke: () => {
      bo.dmaBuf.revoke();
      bo.free();
    },
    read: (offset, length) => {
      check(offset, length);
      vram.touch(bo);
      return bo.bytes.slice(offset, offset + length);
    },
    write: (offset, bytes) => {
      check(offset, bytes.length);
      vram.touch(bo);
      bo.bytes.set(bytes, offset);
    },
  };
}
