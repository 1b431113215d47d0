// Memory regions: ibv_reg_mr over the process's memory (ib_umem_get, which
// pins pages and charges RLIMIT_MEMLOCK) and ibv_reg_dmabuf_mr over a
// dma-buf (ib_umem_dmabuf_get, through a dynamic or a pinned attachment),
// with their checks in the kernel's order.
import { systemError } from '../../src/system-error';
import { PAGE_SIZE } from '../../src/uapi';
import { IBV_ACCESS } from '../../src/rdma/verbs-uapi';
import { DmaBuf } from '../dmabuf';
import type { OpenFile } from '../files';
import { memoryKey } from './keys';
import type { Memlock } from './memlock';
import type { ProtectionDomain } from './pd';
import { ACCESS_OPTIONAL, DeviceProfile } from './profiles';

const A = IBV_ACCESS;
const PAGE = BigInt(PAGE_SIZE);
const U64_MAX = 2n ** 64n - 1n;
/** IB_ACCESS_SUPPORTED: the defined bits up to FLUSH_PERSISTENT, and the optional range. */
const ACCESS_SUPPORTED = ((A['flush-persistent'] << 1) - 1) | ACCESS_OPTIONAL;
/** What uverbs' REG_DMABUF_MR method takes (uverbs_get_flags32 refuses the rest with EINVAL). */
const DMABUF_ACCESS = A['local-write'] | A['remote-read'] | A['remote-write'] | A['remote-atomic'] | A['relaxed-ordering'];

/**
 * A dma-buf MR's hold on the dma-buf. A dynamic importer (move_notify) maps
 * the pages on each access; a pinned one mapped them once at registration.
 * Revocation and move_notify would start from here.
 */
export interface DmaBufAttachment {
  readonly dmaBuf: DmaBuf;
  readonly dynamic: boolean;
}

export class MemoryRegion {
  constructor(
    readonly pd: ProtectionDomain,
    /** lkey and rkey alike. */
    readonly key: number,
    readonly addr: bigint,
    readonly length: bigint,
    readonly access: number,
    /** The registered bytes in order: one view, or the dma-buf pages the MR covers. */
    private readonly runs: () => Uint8Array[],
    private readonly release: () => void,
    readonly attachment?: DmaBufAttachment,
  ) {}

  /** mr_check_range. */
  contains(addr: bigint, length: number): boolean {
    return addr >= this.addr && addr + BigInt(length) <= this.addr + this.length;
  }

  read(addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let at = 0;
    for (const run of this.#slice(addr, length)) {
      out.set(run, at);
      at += run.length;
    }
    return out;
  }

  write(addr: bigint, bytes: Uint8Array): void {
    let at = 0;
    for (const run of this.#slice(addr, bytes.length)) {
      run.set(bytes.subarray(at, at + run.length));
      at += run.length;
    }
  }

  deregister(): void {
    this.pd.device.removeMr(this);
    this.pd.users--;
    this.release();
  }

  #slice(addr: bigint, length: number): Uint8Array[] {
    return sliceRuns(this.runs(), Number(addr - this.addr), length);
  }
}

/** Process memory to register: the view, the address the process knows it by, and whether it is a PFN mapping. */
export interface UserMemory {
  view: Uint8Array;
  addr: bigint;
  /** An mmap of a dma-buf (VM_PFNMAP): pin_user_pages refuses it. */
  pfnMapped: boolean;
}

/** ib_uverbs_reg_mr, then the driver's reg_user_mr around ib_umem_get. */
export function regUserMr(pd: ProtectionDomain, memory: UserMemory, access: number, memlock: Memlock): MemoryRegion {
  const syscall = 'ibv_reg_mr';
  const { device } = pd;
  checkMrAccess(device.profile, access, syscall);
  checkDriverAccess(device.profile, access, syscall);
  const index = device.allocMrIndex(syscall);
  let pinned: bigint;
  try {
    // An ODP MR pins nothing: its pages fault in on access.
    pinned = access & A['on-demand'] ? 0n : pinPages(memory, access, memlock, syscall);
  } catch (e) {
    device.freeMrIndex(index);
    throw e;
  }
  const { view, addr } = memory;
  const length = BigInt(view.byteLength);
  return install(new MemoryRegion(pd, memoryKey(index), addr, length, access, () => [view], () => memlock.unpin(pinned)));
}

/** ib_umem_get: pins the pages under RLIMIT_MEMLOCK, and says how many. */
function pinPages(memory: UserMemory, access: number, memlock: Memlock, syscall: string): bigint {
  if (!memlock.canPin) throw systemError('EPERM', syscall);
  const pages = pageCount(memory.addr, BigInt(memory.view.byteLength));
  if (pages === 0n) throw systemError('EINVAL', syscall);
  if (!memlock.pin(pages)) throw systemError('ENOMEM', syscall);
  // pin_user_pages refuses a PFN mapping; then rxe finds no emulated page is persistent memory.
  const refused = memory.pfnMapped ? 'EFAULT' : access & A['flush-persistent'] ? 'EINVAL' : undefined;
  if (refused) {
    memlock.unpin(pages);
    throw systemError(refused, syscall);
  }
  return pages;
}

/** uverbs' REG_DMABUF_MR method, then the driver's reg_user_mr_dmabuf around ib_umem_dmabuf_get. */
export function regDmabufMr(
  pd: ProtectionDomain, offset: bigint, length: bigint, iova: bigint, file: OpenFile | undefined, access: number,
): MemoryRegion {
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
  if (!(dmaBuf instanceof DmaBuf)) throw systemError('EINVAL', syscall);
  if (end > dmaBuf.size || pageCount(offset, length) === 0n) throw systemError('EINVAL', syscall);
  const index = device.allocMrIndex(syscall);
  const dynamic = profile.dmaBuf === 'dynamic';
  const at = Number(offset);
  const size = Number(length);
  let runs: () => Uint8Array[];
  if (dynamic) {
    runs = () => sliceRuns(dmaBuf.exporter.pages(), at, size);
  } else {
    const mapped = sliceRuns(dmaBuf.exporter.pages(), at, size);
    runs = () => mapped;
  }
  dmaBuf.file.get();
  const mr = new MemoryRegion(pd, memoryKey(index), iova, length, access, runs, () => dmaBuf.file.put(), { dmaBuf, dynamic });
  return install(mr);
}

function install(mr: MemoryRegion): MemoryRegion {
  mr.pd.device.addMr(mr);
  mr.pd.users++;
  return mr;
}

/** ib_check_mr_access. */
function checkMrAccess(profile: DeviceProfile, access: number, syscall: string): void {
  if (access & (A['remote-atomic'] | A['remote-write']) && !(access & A['local-write'])) throw systemError('EINVAL', syscall);
  if (access & ~ACCESS_SUPPORTED) throw systemError('EINVAL', syscall);
  if (access & A['on-demand'] && profile.attr.odpGeneralCaps === 0n) throw systemError('EOPNOTSUPP', syscall);
  if (access & (A['flush-global'] | A['flush-persistent']) && !profile.flush) throw systemError('EOPNOTSUPP', syscall);
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
