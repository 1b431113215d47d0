import type { IbvMr } from '../../seam/backend-verbs';
import { Resource } from '../resource';
import { AccessFlag, accessNames } from './access-flags';
import type { ProtectionDomain } from './pd';

/**
 * How an MR was registered:
 * - 'host-memory': ibv_reg_mr over memory of this process;
 * - 'dma-buf': ibv_reg_dmabuf_mr over the dma-buf itself;
 * - 'memfd-pages': ibv_reg_mr over a mapping of the udmabuf's memfd, asked for
 *   with { fallback: 'memfd-pages' } where the device cannot register dma-bufs.
 *   The same pages, so RDMA through it is seen through the dma-buf.
 */
export type RegisteredVia = 'host-memory' | 'dma-buf' | 'memfd-pages';

/** Where a registered buffer is, for a peer to RDMA into or out of. */
export interface RemoteBuffer {
  addr: bigint;
  length: bigint;
  rkey: number;
}

export class MemoryRegion extends Resource {
  readonly lkey: number;
  readonly rkey: number;
  /** The address the device knows the memory by (the iova for dma-buf MRs). */
  readonly addr: bigint;
  readonly length: bigint;

  /** @internal `keepAlive` holds what the device reads and writes until deregistration. */
  constructor(
    readonly pd: ProtectionDomain,
    private readonly mr: IbvMr,
    private readonly accessBits: number,
    readonly via: RegisteredVia,
    private readonly keepAlive: { view?: Uint8Array; mapping?: Resource; release?: () => void },
  ) {
    super(pd);
    this.lkey = mr.lkey;
    this.rkey = mr.rkey;
    this.addr = mr.addr;
    this.length = mr.length;
    const { seam } = pd.device;
    this.guard(() => {
      seam.ibvDeregMr(mr.handle);
      keepAlive.release?.();
    });
  }

  /** The access flags it was registered with (named on demand: registering stays cheap). */
  get access(): AccessFlag[] {
    return accessNames(this.accessBits);
  }

  /** @internal */
  get handle(): number {
    return this.mr.handle;
  }

  /** What a peer needs to reach this memory: address, length, rkey. */
  remote(): RemoteBuffer {
    this.assertOpen();
    return { addr: this.addr, length: this.length, rkey: this.rkey };
  }

  protected release(): void {
    try {
      this.pd.device.seam.ibvDeregMr(this.mr.handle);
    } finally {
      this.keepAlive.release?.();
      this.keepAlive.view = undefined;
      this.keepAlive.mapping = undefined;
    }
  }
}
