// The Linux versions the emulator imitates, each checked against its own
// record (conformance/kernel-record-<version>.json), and what each does
// differently: the code that differs asks its machine's `behaviour`.
export const KERNELS = ['6.12', '7.3'] as const;
export type KernelVersion = (typeof KERNELS)[number];
export const DEFAULT_KERNEL: KernelVersion = '6.12';

export interface KernelBehaviour {
  /**
   * dma_fence_driver_name and dma_fence_timeline_name of a signalled fence
   * (sync_file info and name): its own (6.12), or 'detached-driver' and
   * 'signaled-timeline', since a signalled fence may outlive its driver (7.3).
   */
  detachedSignalledFences: boolean;
  /** rxe's on-demand paging: ODP MRs and its capabilities (7.3), or EOPNOTSUPP (6.12). */
  rxeOnDemandPaging: boolean;
  /**
   * rxe's copy through an on-demand MR (rxe_odp_mr_copy, 7.3.4) leaves out the
   * offset within the page: each packet's bytes land at, or are read from,
   * the start of the page its address falls in, as recorded in the odp/
   * packet scenarios. Atomics use the offset.
   */
  rxeOdpCopyAtPageStart: boolean;
  /** rxe's advise_mr, prefetch into on-demand MRs (7.3); 6.12's rxe has none, and uverbs answers EOPNOTSUPP. */
  rxeAdviseMr: boolean;
  /** udmabuf's size_limit_mb default: 64 (6.12), or INT_MAX, no limit in practice (7.3). */
  udmabufSizeLimitMb: number;
}

export const BEHAVIOUR: Record<KernelVersion, KernelBehaviour> = {
  '6.12': {
    detachedSignalledFences: false, rxeOnDemandPaging: false, rxeOdpCopyAtPageStart: false, rxeAdviseMr: false,
    udmabufSizeLimitMb: 64,
  },
  '7.3': {
    detachedSignalledFences: true, rxeOnDemandPaging: true, rxeOdpCopyAtPageStart: true, rxeAdviseMr: true,
    udmabufSizeLimitMb: 2 ** 31 - 1,
  },
};

/** "7.3" for uname -r "7.3.4+deb13-amd64"; undefined for a version the emulator does not imitate. */
export function kernelOfRelease(release: string): KernelVersion | undefined {
  const version = /^(\d+\.\d+)/.exec(release)?.[1];
  return KERNELS.find((k) => k === version);
}
