import type { IbvMr } from '../../seam/backend-verbs';
import { IBV_ACCESS, IBV_ADVISE_MR_ADVICE, IBV_ADVISE_MR_FLAG } from '../../seam/verbs-uapi';
import { invalidState, oneOf, optionsArg, outOfRange, toBoolean, toSize } from '../args';
import { assertOpen, Resource, teardown } from '../resource';
import { AccessFlag, accessNames } from './access-flags';
import { freshMr, retire, type ProtectionDomain } from './pd';

/**
 * How an MR was registered:
 * - 'host-memory': ibv_reg_mr over memory of this process;
 * - 'dma-buf': ibv_reg_dmabuf_mr over the dma-buf itself;
 * - 'memfd-pages': ibv_reg_mr over a mapping of the udmabuf's memfd, asked for
 *   with { fallback: 'memfd-pages' } where the device cannot register dma-bufs.
 *   The same pages, so RDMA through it is seen through the dma-buf.
 */
export type RegisteredVia = 'host-memory' | 'dma-buf' | 'memfd-pages';

/** @internal Registers the MR's memory with `access`: once, and again to revoke remote access. */
export type Registrar = (access: number) => IbvMr;

/** @internal What the device reads and writes, held until deregistration. */
export interface KeepAlive {
  view?: Uint8Array;
  mapping?: Resource;
  release?: () => void;
}

/** Where a registered buffer is, for a peer to RDMA into or out of. */
export interface RemoteBuffer {
  addr: bigint;
  length: bigint;
  rkey: number;
}

/**
 * What prefetch() asks of the device (ibv_advise_mr's advice): pages for
 * reading, for writing (faulted in writable, so a later RDMA write into them
 * takes no fault), or only those already in the process, faulting nothing.
 */
export type PrefetchAdvice = 'prefetch' | 'prefetch-write' | 'prefetch-no-fault';

export interface PrefetchOptions {
  /** Where the range starts, from the MR's start. Default 0. */
  offset?: number | bigint;
  /** How many bytes. Default: to the MR's end. */
  length?: number | bigint;
  /** Default 'prefetch-write' where the MR has local write, else 'prefetch'. */
  advice?: PrefetchAdvice;
  /**
   * true (the default): the pages are in when prefetch() returns, and a page
   * that cannot be (unmapped) throws EFAULT. false: the kernel only queues
   * the work, best effort, and reports nothing of how it went.
   */
  flush?: boolean;
}

const ADVICES: Record<PrefetchAdvice, number> = {
  'prefetch': IBV_ADVISE_MR_ADVICE.PREFETCH,
  'prefetch-write': IBV_ADVISE_MR_ADVICE.PREFETCH_WRITE,
  'prefetch-no-fault': IBV_ADVISE_MR_ADVICE.PREFETCH_NO_FAULT,
};
/** What one ibv_advise_mr call covers: its SGE length is 32 bits, and rxe counts it in an int. */
const PREFETCH_CHUNK = 1n << 30n;

const REMOTE_ACCESS = IBV_ACCESS.REMOTE_READ | IBV_ACCESS.REMOTE_WRITE | IBV_ACCESS.REMOTE_ATOMIC;

export class MemoryRegion extends Resource {
  /** The address the device knows the memory by (the iova for dma-buf MRs). */
  readonly addr: bigint;
  readonly length: bigint;
  /** What is registered now: revokeRemote() replaces it. Shared with the teardown, which must not hold this object. */
  readonly #now: { mr: IbvMr; access: number };
  readonly #registrar: Registrar;

  /** Made by ProtectionDomain.register() and registerDmaBuf(). */
  constructor(
    readonly pd: ProtectionDomain,
    mr: IbvMr,
    accessBits: number,
    readonly via: RegisteredVia,
    keepAlive: KeepAlive,
    registrar: Registrar,
    unpin?: () => void,
  ) {
    super(pd);
    this.#registrar = registrar;
    const now = { mr, access: accessBits };
    this.#now = now;
    this.addr = mr.addr;
    this.length = mr.length;
    const { seam } = pd.device;
    // Newest first: deregister (retiring a key peers may hold), then let go of the memory.
    teardown(this, () => {
      keepAlive.view = undefined;
      keepAlive.mapping = undefined;
      keepAlive.release?.();
      unpin?.();
    });
    teardown(this, () => {
      seam.ibvDeregMr(now.mr.handle);
      if (now.access & REMOTE_ACCESS) retire(pd, now.mr.rkey);
    });
  }

  get lkey(): number {
    return this.#now.mr.lkey;
  }

  /** The key a peer names this memory by; it changes when remote access is revoked. */
  get rkey(): number {
    return this.#now.mr.rkey;
  }

  /** The access flags it is registered with (named on demand: registering stays cheap). */
  get access(): AccessFlag[] {
    return accessNames(this.#now.access);
  }

  /** What a peer needs to reach this memory: address, length, rkey. */
  remote(): RemoteBuffer {
    assertOpen(this);
    return { addr: this.addr, length: this.length, rkey: this.rkey };
  }

  /**
   * Faults the pages of an on-demand MR (access 'on-demand') in ahead of any
   * RDMA, with ibv_advise_mr: by default the whole MR, for writing where it
   * has local write, and in before it returns. Kernels without it answer
   * EOPNOTSUPP (rxe before Linux 7.3, which registers no on-demand MR
   * either); rxe also wants the MR to have 'local-write' (EINVAL).
   */
  prefetch(options?: PrefetchOptions): void {
    assertOpen(this);
    const o = optionsArg(options);
    const offset = o.offset === undefined ? 0n : toSize(o.offset, 'options.offset');
    if (offset >= this.length) throw outOfRange('options.offset', `< ${this.length} (the MR's length)`, o.offset);
    const length = o.length === undefined ? this.length - offset : toSize(o.length, 'options.length');
    if (length === 0n || length > this.length - offset) throw outOfRange('options.length', `>= 1 and <= ${this.length - offset} (to the MR's end)`, o.length);
    const { access } = this.#now;
    const advice = o.advice === undefined ? (access & IBV_ACCESS.LOCAL_WRITE ? 'prefetch-write' : 'prefetch')
      : oneOf(o.advice, Object.keys(ADVICES) as PrefetchAdvice[], 'options.advice');
    const flags = o.flush === undefined || toBoolean(o.flush, 'options.flush') ? IBV_ADVISE_MR_FLAG.FLUSH : 0;
    // The addon never passes a pinned MR to the kernel (rxe in 7.3 would take it for an on-demand one).
    if (!(access & IBV_ACCESS.ON_DEMAND)) throw invalidState("prefetch() is for memory registered with access 'on-demand': a pinned MR's pages are all in already");
    const { seam } = this.pd.device;
    for (let at = offset; at < offset + length; at += PREFETCH_CHUNK) {
      const size = Number(offset + length - at < PREFETCH_CHUNK ? offset + length - at : PREFETCH_CHUNK);
      seam.ibvAdviseMr(this.pd.handle, ADVICES[advice], flags, this.lkey, this.addr + at, size);
    }
  }

  /**
   * Ends remote access now: the memory is registered again without remote
   * flags (new lkey and rkey: post nothing with the old lkey after this) and
   * the old registration is deregistered, so any peer's later access with the
   * old rkey fails with a remote access error. That key is never taken by
   * another MR of this PD.
   */
  revokeRemote(): void {
    assertOpen(this);
    const now = this.#now;
    if (!(now.access & REMOTE_ACCESS)) return;
    const local = now.access & ~REMOTE_ACCESS;
    const { seam } = this.pd.device;
    const next = freshMr(this.pd, this.#registrar, local);
    const old = now.mr;
    try {
      seam.ibvDeregMr(old.handle);
    } catch (e) {
      // Still registered as it was: keep that, and drop the new one.
      seam.ibvDeregMr(next.handle);
      throw e;
    }
    retire(this.pd, old.rkey);
    now.mr = next;
    now.access = local;
  }
}
