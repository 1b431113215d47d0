import type { IbvMr } from '../../seam/backend-verbs';
import { IBV_ACCESS } from '../../seam/verbs-uapi';
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
