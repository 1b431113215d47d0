// Memory regions: ibv_reg_mr over the process's memory (ib_umem_get, which
// pins pages and charges RLIMIT_MEMLOCK) and ibv_reg_dmabuf_mr over a
// dma-buf (ib_umem_dmabuf_get, through a dynamic or a pinned attachment:
// umem-dmabuf.ts), or on demand (odp.ts), with their checks in the kernel's
// order.
import { systemError } from '../../seam/system-error';
import { PAGE_SIZE } from '../../seam/uapi';
import { IBV_ACCESS, IBV_ADVISE_MR_ADVICE, IBV_ADVISE_MR_FLAG } from '../../seam/verbs-uapi';
import { DmaBufObject } from '../dmabuf';
import type { OpenFile } from '../files';
import { memoryKey } from './keys';
import type { Memlock } from './memlock';
import { OdpMirror, OdpState } from './odp';
import type { IbPd } from './pd';
import { ACCESS_OPTIONAL, DeviceProfile } from './profiles';
import { DmaBufMrState, UmemDmabuf } from './umem-dmabuf';

const A = IBV_ACCESS;
const PAGE = BigInt(PAGE_SIZE);
const U64_MAX = 2n ** 64n - 1n;
/** IB_ACCESS_SUPPORTED: the defined bits up to FLUSH_PERSISTENT, and the optional range. */
const ACCESS_SUPPORTED = ((A.FLUSH_PERSISTENT << 1) - 1) | ACCESS_OPTIONAL;
/** What uverbs' REG_DMABUF_MR method takes (uverbs_get_flags32 refuses the rest with EINVAL). */
const DMABUF_ACCESS = A.LOCAL_WRITE | A.REMOTE_READ | A.REMOTE_WRITE | A.REMOTE_ATOMIC | A.RELAXED_ORDERING;

/** What an MR's memory is, as its device reaches it (offsets from the MR's start). */
interface Backing {
  /** Whether the device can reach [offset, offset + length) now, faulting in what a move or an invalidation took away. */
  reaches(offset: number, length: number): boolean;
  /** A copy of [offset, offset + length), moved in packets of `packet` bytes; zeros where the device cannot reach it. */
  read(offset: number, length: number, packet: number): Uint8Array;
  /** Stores `bytes` at `offset`, in packets of `packet` bytes, where the device can reach it. */
  write(offset: number, bytes: Uint8Array, packet: number): void;
  release(): void;
  /** A dma-buf MR's hold on its dma-buf. */
  umem?: UmemDmabuf;
  /** An on-demand MR's mirror of the process's pages. */
  odp?: OdpMirror;
}

/** What a test reads of an MR (controls(backend).rdma.device(name).mr(key)). */
export interface MrState {
  key: number;
  via: 'memory' | 'on-demand' | 'dma-buf';
  dmaBuf?: DmaBufMrState;
  odp?: OdpState;
}

export class IbMr {
  constructor(
    readonly pd: IbPd,
    /** lkey and rkey alike. */
    readonly key: number,
    readonly addr: bigint,
    readonly length: bigint,
    readonly access: number,
    private readonly backing: Backing,
  ) {}

  get onDemand(): boolean {
    return this.backing.odp !== undefined;
  }

  /** mr_check_range. */
  contains(addr: bigint, length: number): boolean {
    return addr >= this.addr && addr + BigInt(length) <= this.addr + this.length;
  }

  /**
   * Whether the device can reach [addr, addr + length) now, faulting in what
   * a move or an invalidation took away: false once revoked, or where an
   * on-demand page is not mapped in the process.
   */
  reaches(addr: bigint, length: number): boolean {
    return this.backing.reaches(Number(addr - this.addr), length);
  }

  /** The device's copy out of [addr, addr + length), in packets of `packet` bytes. */
  read(addr: bigint, length: number, packet = length): Uint8Array {
    return this.backing.read(Number(addr - this.addr), length, packet);
  }

  /** The device's copy of `bytes` into the MR at `addr`, in packets of `packet` bytes. */
  write(addr: bigint, bytes: Uint8Array, packet = bytes.length): void {
    this.backing.write(Number(addr - this.addr), bytes, packet);
  }

  /**
   * The driver's synchronous prefetch of [addr, addr + length) of this
   * on-demand MR (ib_umem_odp_map_dma_and_lock): EFAULT outside the MR or
   * where a page is not mapped; without `fault` (PREFETCH_NO_FAULT) it takes
   * only the pages already there, which the mirror holds anyway.
   */
  prefetch(addr: bigint, length: number, fault: boolean): void {
    const syscall = 'ibv_advise_mr';
    if (!this.contains(addr, length)) throw systemError('EFAULT', syscall);
    if (fault && !this.backing.odp!.fault(Number(addr - this.addr), length, true)) throw systemError('EFAULT', syscall);
  }

  state(): MrState {
    const { umem, odp } = this.backing;
    const via = umem ? 'dma-buf' : odp ? 'on-demand' : 'memory';
    return { key: this.key, via, ...(umem && { dmaBuf: umem.state() }), ...(odp && { odp: odp.state() }) };
  }

  deregister(): void {
    this.pd.device.removeMr(this);
    this.pd.users--;
    this.backing.release();
  }
}

/**
 * uverbs' ADVISE_MR method, then the driver's advise_mr for one SGE, whose
 * lkey names no pinned MR of `pd` (the addon refuses those). Without
 * IBV_ADVISE_MR_FLAG_FLUSH the driver only looks the MR up and queues the
 * prefetch, whose failure nobody hears of: here it runs at once.
 */
export function adviseMr(pd: IbPd, lkey: number, advice: number, flags: number, addr: bigint, length: number): void {
  const syscall = 'ibv_advise_mr';
  const { prefetch } = pd.device.profile;
  if (!prefetch) throw systemError('EOPNOTSUPP', syscall);
  if (flags & ~IBV_ADVISE_MR_FLAG.FLUSH) throw systemError('EINVAL', syscall);
  if (advice > IBV_ADVISE_MR_ADVICE.PREFETCH_NO_FAULT) throw systemError('EOPNOTSUPP', syscall);
  // The driver's lookup: an MR of this PD, on demand (the addon let no pinned one through).
  const mr = pd.device.mrByKey(lkey);
  if (mr?.pd !== pd || !mr.onDemand || (prefetch.needsLocalWrite && !(mr.access & A.LOCAL_WRITE))) {
    throw systemError(prefetch.notFound, syscall);
  }
  try {
    mr.prefetch(addr, length, advice !== IBV_ADVISE_MR_ADVICE.PREFETCH_NO_FAULT);
  } catch (e) {
    // Without FLUSH it is best effort: the kernel's work drops its failure.
    if (flags & IBV_ADVISE_MR_FLAG.FLUSH) throw e;
  }
}

/** Process memory to register: the view, the address the process knows it by, and whether it is a PFN mapping. */
export interface UserMemory {
  view: Uint8Array;
  addr: bigint;
  /** An mmap of a dma-buf (VM_PFNMAP): pin_user_pages refuses it. */
  pfnMapped: boolean;
  /** A mapping without PROT_WRITE: pinning it for writing (FOLL_WRITE) fails. */
  readOnly: boolean;
}

/** ib_uverbs_reg_mr, then the driver's reg_user_mr around ib_umem_get. */
export function regUserMr(pd: IbPd, memory: UserMemory, access: number, memlock: Memlock): IbMr {
  const syscall = 'ibv_reg_mr';
  const { device } = pd;
  checkMrAccess(device.profile, access, syscall);
  checkDriverAccess(device.profile, access, syscall);
  const index = device.allocMrIndex(syscall);
  let pinned: bigint;
  try {
    // An ODP MR pins nothing: its pages fault in on access.
    pinned = access & A.ON_DEMAND ? 0n : pinPages(memory, access, memlock, syscall);
  } catch (e) {
    device.freeMrIndex(index);
    throw e;
  }
  const { view, addr } = memory;
  const length = BigInt(view.byteLength);
  const backing = access & A.ON_DEMAND ? odpBacking(memory, device.profile.odpCopyAtPageStart === true)
    : viewBacking(view, () => true, () => memlock.unpin(pinned));
  return install(new IbMr(pd, memoryKey(index), addr, length, access, backing));
}

/**
 * Memory that is one view of the process's (ibv_reg_mr): copied in and out
 * in place, with no view made per access, as the hot path of every RDMA
 * request goes through here.
 */
function viewBacking(view: Uint8Array, reaches: Backing['reaches'], release: () => void): Backing {
  return {
    reaches,
    read: (offset, length) => (reaches(offset, length) ? view.slice(offset, offset + length) : new Uint8Array(length)),
    write: (offset, bytes) => {
      if (reaches(offset, bytes.length)) view.set(bytes, offset);
    },
    release,
  };
}

/**
 * Reaches each page through the mirror, which faults it in first; with
 * `atPageStart` (7.3.4's rxe_odp_mr_copy), each packet's part of a page
 * lands at the page's start.
 */
function odpBacking({ view, addr }: UserMemory, atPageStart: boolean): Backing {
  const odp = new OdpMirror(view);
  const reaches = (offset: number, size: number) => odp.fault(offset, size);
  if (!atPageStart) return { ...viewBacking(view, reaches, () => odp.release()), odp };
  const runs = (offset: number, length: number, packet: number) => {
    if (!reaches(offset, length)) return undefined;
    const out: Uint8Array[] = [];
    for (let at = 0; at < length; at += packet) out.push(...pageStartRuns(view, addr, offset + at, Math.min(packet, length - at)));
    return out;
  };
  return { ...runsBacking(runs, () => odp.release()), odp };
}

/**
 * [offset, offset + size) of an MR at `addr`, cut at pages, each part moved
 * to the start of its page: before the MR's first byte where the MR does not
 * start a page, as the kernel's copy goes to memory the MR does not cover.
 */
function pageStartRuns(view: Uint8Array, addr: bigint, offset: number, size: number): Uint8Array[] {
  const runs: Uint8Array[] = [];
  for (let at = offset; at < offset + size;) {
    const inPage = Number((addr + BigInt(at)) % PAGE);
    const length = Math.min(PAGE_SIZE - inPage, offset + size - at);
    runs.push(new Uint8Array(view.buffer, view.byteOffset + at - inPage, length));
    at += length;
  }
  return runs;
}

/** Memory laid out as runs (a dma-buf's pages): each access copies run by run; unreachable while `runs` gives undefined. */
function runsBacking(runs: (offset: number, length: number, packet: number) => Uint8Array[] | undefined, release: () => void): Backing {
  return {
    reaches: (offset, length) => runs(offset, length, length) !== undefined,
    read: (offset, length, packet) => {
      const out = new Uint8Array(length);
      let at = 0;
      for (const run of runs(offset, length, packet) ?? []) {
        out.set(run, at);
        at += run.length;
      }
      return out;
    },
    write: (offset, bytes, packet) => {
      let at = 0;
      for (const run of runs(offset, bytes.length, packet) ?? []) {
        run.set(bytes.subarray(at, at + run.length));
        at += run.length;
      }
    },
    release,
  };
}

/** ib_umem_get: pins the pages under RLIMIT_MEMLOCK, and says how many. */
function pinPages(memory: UserMemory, access: number, memlock: Memlock, syscall: string): bigint {
  if (!memlock.canPin) throw systemError('EPERM', syscall);
  const pages = pageCount(memory.addr, BigInt(memory.view.byteLength));
  if (pages === 0n) throw systemError('EINVAL', syscall);
  if (!memlock.pin(pages)) throw systemError('ENOMEM', syscall);
  // pin_user_pages refuses a PFN mapping, and a read-only one where the MR
  // may write (ib_access_writable: local or remote write, atomics, MW bind;
  // seen on 6.12.107); then rxe finds no emulated page is persistent memory.
  const writes = access & (A.LOCAL_WRITE | A.REMOTE_WRITE | A.REMOTE_ATOMIC | A.MW_BIND);
  const refused = memory.pfnMapped || (memory.readOnly && writes) ? 'EFAULT' : access & A.FLUSH_PERSISTENT ? 'EINVAL' : undefined;
  if (refused) {
    memlock.unpin(pages);
    throw systemError(refused, syscall);
  }
  return pages;
}

/** uverbs' REG_DMABUF_MR method, then the driver's reg_user_mr_dmabuf around ib_umem_dmabuf_get. */
export function regDmabufMr(
  pd: IbPd, offset: bigint, length: bigint, iova: bigint, file: OpenFile | undefined, access: number,
): IbMr {
  const syscall = 'ibv_reg_dmabuf_mr';
  const { device } = pd;
  const { profile } = device;
  if (profile.dmaBuf === 'none') throw systemError('EOPNOTSUPP', syscall);
  if ((offset ^ iova) & (PAGE - 1n)) throw systemError('EINVAL', syscall);
  if (access & ~DMABUF_ACCESS) throw systemError('EINVAL', syscall);
  checkMrAccess(profile, access, syscall);
  checkDriverAccess(profile, access, syscall);
  const end = offset + length;
  if (end > U64_MAX) throw systemError('EINVAL', syscall);
  if (!file) throw systemError('EBADF', syscall);
  const dmaBuf = file.object;
  if (!(dmaBuf instanceof DmaBufObject)) throw systemError('EINVAL', syscall);
  if (end > dmaBuf.size || pageCount(offset, length) === 0n) throw systemError('EINVAL', syscall);
  const index = device.allocMrIndex(syscall);
  let umem: UmemDmabuf;
  try {
    umem = new UmemDmabuf(dmaBuf, profile.dmaBuf === 'dynamic', syscall);
  } catch (e) {
    device.freeMrIndex(index);
    throw e;
  }
  dmaBuf.file.get();
  const at = Number(offset);
  const backing: Backing = {
    ...runsBacking(
      (from, size) => {
        const pages = umem.pages();
        return pages && sliceRuns(pages, at + from, size);
      },
      () => {
        umem.release();
        dmaBuf.file.put();
      },
    ),
    umem,
  };
  return install(new IbMr(pd, memoryKey(index), iova, length, access, backing));
}

function install(mr: IbMr): IbMr {
  mr.pd.device.addMr(mr);
  mr.pd.users++;
  return mr;
}

/** ib_check_mr_access. */
function checkMrAccess(profile: DeviceProfile, access: number, syscall: string): void {
  if (access & (A.REMOTE_ATOMIC | A.REMOTE_WRITE) && !(access & A.LOCAL_WRITE)) throw systemError('EINVAL', syscall);
  if (access & ~ACCESS_SUPPORTED) throw systemError('EINVAL', syscall);
  if (access & A.ON_DEMAND && profile.attr.odpGeneralCaps === 0n) throw systemError('EOPNOTSUPP', syscall);
  if (access & (A.FLUSH_GLOBAL | A.FLUSH_PERSISTENT) && !profile.flush) throw systemError('EOPNOTSUPP', syscall);
}

function checkDriverAccess(profile: DeviceProfile, access: number, syscall: string): void {
  if (access & ~profile.driverAccess) throw systemError('EOPNOTSUPP', syscall);
}

/** ib_umem_num_pages: the pages [addr, addr + length) touches. */
function pageCount(addr: bigint, length: bigint): bigint {
  const first = addr / PAGE;
  const last = (addr + length + PAGE - 1n) / PAGE;
  return last - first;
}

/** The views covering [offset, offset + length) of memory laid out as `runs`, one after another. */
function sliceRuns(runs: Uint8Array[], offset: number, length: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = offset;
  let left = length;
  for (const run of runs) {
    if (left === 0) break;
    if (skip >= run.length) {
      skip -= run.length;
      continue;
    }
    const take = Math.min(run.length - skip, left);
    out.push(run.subarray(skip, skip + take));
    skip = 0;
    left -= take;
  }
  return out;
}
