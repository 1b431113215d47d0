// The RDMA devices an emulated machine can have: what each reports and where
// its driver answers differently from the others.
import type { IbvDeviceAttr } from '../../seam/backend-verbs';
import { IBV_ACCESS, IBV_WC_STATUS } from '../../seam/verbs-uapi';
import type { Machine } from '../machine';

const A = IBV_ACCESS;
/** IB_UVERBS_ACCESS_OPTIONAL_RANGE: bits 20 to 29, of which relaxed ordering is the first. */
export const ACCESS_OPTIONAL = 0x3ff00000;

export interface PortProfile {
  /** IBV_MTU_* enums. */
  maxMtu: number;
  activeMtu: number;
  /** IBV_LINK_LAYER_*: 1 InfiniBand, 2 Ethernet, 0 unspecified (EFA). */
  linkLayer: number;
  activeSpeed: number;
  activeWidth: number;
  gidTblLen: number;
  /** The filled entries of the GID table, from index 0. */
  gids: Uint8Array[];
}

export interface DeviceProfile {
  name: string;
  /** Node GUID, host byte order. */
  guid: bigint;
  nodeType: number;
  transportType: number;
  attr: IbvDeviceAttr;
  port: PortProfile;
  /**
   * How ibv_reg_dmabuf_mr attaches to the dma-buf: not at all (the driver has
   * no reg_user_mr_dmabuf), dynamically (move_notify, with ODP: mlx5), or
   * pinned (ib_umem_dmabuf_get_pinned: efa).
   */
  dmaBuf: 'none' | 'dynamic' | 'pinned';
  /** IB_DEVICE_FLUSH_GLOBAL and _PERSISTENT, which the kernel keeps beyond the 32 bits ibv_device_attr shows. */
  flush: boolean;
  /** Copies through on-demand MRs go to each packet's page start (KernelBehaviour.rxeOdpCopyAtPageStart). */
  odpCopyAtPageStart?: boolean;
  /**
   * The driver's advise_mr (prefetch into on-demand MRs): what it answers for
   * an lkey its lookup does not find, and whether that lookup wants the MR to
   * have local write (rxe's lookup_mr(pd, IB_ACCESS_LOCAL_WRITE, …)). Absent:
   * no advise_mr, and uverbs answers EOPNOTSUPP.
   */
  prefetch?: { notFound: 'EINVAL' | 'ENOENT'; needsLocalWrite: boolean };
  /** The access bits the driver's reg_mr accepts after ib_check_mr_access; others answer EOPNOTSUPP. */
  driverAccess: number;
  /** Cyclic index ranges of the MR and QP pools, and how many the kernel's own users (MAD, its DMA MR) take at start. */
  mrIndexes: { min: number; max: number; reserved: number };
  qpIndexes: { min: number; max: number; reserved: number };
  maxInlineData: number;
  completions: CompletionProfile;
}

/** Where the driver's completions differ from the others'. */
export interface CompletionProfile {
  /** The receive's and the requester's status when a SEND overruns the receive's SGE. */
  recvLength: { recv: number; requester: number };
  /** The same when the receive's SGE fails its lkey check. */
  recvProtection: { recv: number; requester: number };
  /** A requester that cannot read its own SGE, or runs a LOCAL_INV no MR allows. */
  localProtection: number;
  localOperation: number;
  /** retry_cnt 7 retries for ever, as rnr_retry 7 does (rxe). */
  retry7Forever: boolean;
  /** Receives posted to a QP in ERR complete flushed; rxe's user QPs leave them queued (no doorbell for receives). */
  flushLateRecvs: boolean;
}

/** What rxe in 6.12 was seen to complete with, in the VM. */
const RXE_COMPLETIONS: CompletionProfile = {
  // The responder's copy_data fails as a malformed WQE (class A: LOC_QP_OP_ERR, NAK REM_OP_ERR).
  recvLength: { recv: IBV_WC_STATUS.LOC_QP_OP_ERR, requester: IBV_WC_STATUS.REM_OP_ERR },
  recvProtection: { recv: IBV_WC_STATUS.LOC_QP_OP_ERR, requester: IBV_WC_STATUS.REM_OP_ERR },
  // The requester moves the QP to ERR before the completer reaches the request, which then completes flushed.
  localProtection: IBV_WC_STATUS.WR_FLUSH_ERR,
  localOperation: IBV_WC_STATUS.WR_FLUSH_ERR,
  retry7Forever: true,
  flushLateRecvs: false,
};

/** As the InfiniBand specification has a hardware RNIC complete. */
const HCA_COMPLETIONS: CompletionProfile = {
  recvLength: { recv: IBV_WC_STATUS.LOC_LEN_ERR, requester: IBV_WC_STATUS.REM_INV_REQ_ERR },
  recvProtection: { recv: IBV_WC_STATUS.LOC_PROT_ERR, requester: IBV_WC_STATUS.REM_OP_ERR },
  localProtection: IBV_WC_STATUS.LOC_PROT_ERR,
  localOperation: IBV_WC_STATUS.LOC_QP_OP_ERR,
  retry7Forever: false,
  flushLateRecvs: true,
};

/** EUI-64 from a MAC address (addrconf_addr_eui48): the interface id of link-local GIDs, and node GUIDs. */
export function eui64(mac: number[]): number[] {
  return [mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]];
}

export function linkLocalGid(mac: number[]): Uint8Array {
  return Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...eui64(mac)]);
}

export function ipv4Gid(ip: number[]): Uint8Array {
  return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip]);
}

function ipv6Loopback(): Uint8Array {
  const gid = new Uint8Array(16);
  gid[15] = 1;
  return gid;
}

export function guidOf(bytes: number[]): bigint {
  return bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
}

const U64_MAX = 2n ** 64n - 1n;
/** IBV_DEVICE_* bits. */
const DEV = {
  badPkeyCntr: 1 << 1, badQkeyCntr: 1 << 2, autoPathMig: 1 << 4, changePhyPort: 1 << 5, udAvPortEnforce: 1 << 6,
  portActiveEvent: 1 << 10, sysImageGuid: 1 << 11, rcRnrNakGen: 1 << 12, srqResize: 1 << 13, memWindow: 1 << 17,
  memMgtExtensions: 1 << 21, memWindowType2b: 1 << 24,
};
/** IBV_SPEED_* and IBV_WIDTH_*. */
const SPEED_SDR = 1, SPEED_EDR = 32, WIDTH_1X = 1, WIDTH_4X = 2;
const MTU_1024 = 3, MTU_4096 = 5;
const LINK_ETHERNET = 2, LINK_UNSPECIFIED = 0;
const NODE_CA = 1, NODE_UNSPECIFIED = 0, TRANSPORT_IB = 0, TRANSPORT_UNSPECIFIED = 3;

/**
 * rxe's on-demand paging, where the kernel has it: IBV_ODP_SUPPORT without
 * implicit ODP, on RC send, receive, write, read, atomics, SRQ receives,
 * flush and atomic write.
 */
function rxeOdp(machine: Machine): Pick<IbvDeviceAttr, 'odpGeneralCaps' | 'odpRcCaps'> {
  return machine.behaviour.rxeOnDemandPaging ? { odpGeneralCaps: 1n, odpRcCaps: 0xff } : { odpGeneralCaps: 0n, odpRcCaps: 0 };
}

/** Soft-RoCE on lo (rdma link add rxe0 type rxe netdev lo), as rxe in the machine's kernel reports it. */
function rxe(name: string, machine: Machine): DeviceProfile {
  const loMac = [0, 0, 0, 0, 0, 0];
  return {
    name,
    guid: guidOf(eui64(loMac)),
    nodeType: NODE_CA,
    transportType: TRANSPORT_IB,
    attr: {
      fwVer: '0.0.0', vendorId: 0xffffff, vendorPartId: 0, hwVer: 0, physPortCnt: 1,
      maxMrSize: U64_MAX, pageSizeCap: 0xfffff000n, maxQp: (1 << 20) - 16, maxQpWr: 1 << 20, maxSge: 32,
      maxCq: 1 << 20, maxCqe: (1 << 15) - 1, maxMr: (1 << 19) - 1, maxPd: 1 << 20, maxQpRdAtom: 128, maxQpInitRdAtom: 128,
      deviceCapFlags: DEV.badPkeyCntr | DEV.badQkeyCntr | DEV.autoPathMig | DEV.changePhyPort | DEV.udAvPortEnforce |
        DEV.portActiveEvent | DEV.sysImageGuid | DEV.rcRnrNakGen | DEV.srqResize | DEV.memWindow |
        DEV.memMgtExtensions | DEV.memWindowType2b,
      ...rxeOdp(machine),
    },
    // lo's MTU of 65536 gives the largest IB MTU; its addresses are 127.0.0.1 and ::1.
    port: {
      maxMtu: MTU_4096, activeMtu: MTU_4096, linkLayer: LINK_ETHERNET, activeSpeed: SPEED_SDR, activeWidth: WIDTH_1X,
      gidTblLen: 1024, gids: [linkLocalGid(loMac), ipv4Gid([127, 0, 0, 1]), ipv6Loopback()],
    },
    dmaBuf: 'none',
    flush: true,
    odpCopyAtPageStart: machine.behaviour.rxeOdpCopyAtPageStart,
    ...(machine.behaviour.rxeAdviseMr && { prefetch: { notFound: 'EINVAL', needsLocalWrite: true } }),
    // RXE_ACCESS_SUPPORTED_MR: ZERO_BASED and HUGETLB are refused.
    driverAccess: A.LOCAL_WRITE | A.REMOTE_WRITE | A.REMOTE_READ | A.REMOTE_ATOMIC | A.MW_BIND |
      A.ON_DEMAND | A.FLUSH_GLOBAL | A.FLUSH_PERSISTENT | ACCESS_OPTIONAL,
    // Index 1 is the MAD layer's DMA MR, so user keys start at index 2.
    mrIndexes: { min: 1, max: 1 << 19, reserved: 1 },
    // QP 16 is the GSI QP the MAD layer makes, so user QPs start at 17.
    qpIndexes: { min: 16, max: (1 << 20) - 1, reserved: 1 },
    maxInlineData: 512,
    completions: RXE_COMPLETIONS,
  };
}

/** A ConnectX-6 Dx port (RoCE on a 1500-byte-MTU netdev), with ODP. */
function mlx5(name: string): DeviceProfile {
  const mac = [0x0c, 0x42, 0xa1, 0x5e, 0x00, 0x01];
  return {
    name,
    guid: 0x0c42a103005e0001n,
    nodeType: NODE_CA,
    transportType: TRANSPORT_IB,
    attr: {
      fwVer: '22.39.1002', vendorId: 0x02c9, vendorPartId: 4125, hwVer: 0, physPortCnt: 1,
      maxMrSize: U64_MAX, pageSizeCap: 0xfffffffffffff000n, maxQp: 131072, maxQpWr: 32768, maxSge: 30,
      maxCq: 16777216, maxCqe: 4194303, maxMr: 16777216, maxPd: 8388608, maxQpRdAtom: 16, maxQpInitRdAtom: 16,
      deviceCapFlags: 0xed721c36,
      // IBV_ODP_SUPPORT | IBV_ODP_SUPPORT_IMPLICIT; RC send, recv, write, read, atomic.
      odpGeneralCaps: 3n, odpRcCaps: 0x1f,
    },
    port: {
      maxMtu: MTU_4096, activeMtu: MTU_1024, linkLayer: LINK_ETHERNET, activeSpeed: SPEED_EDR, activeWidth: WIDTH_4X,
      gidTblLen: 255, gids: [linkLocalGid(mac), ipv4Gid([192, 168, 100, 1])],
    },
    dmaBuf: 'dynamic',
    flush: false,
    // get_prefetchable_mr: ENOENT for a key naming no on-demand MR of the PD.
    prefetch: { notFound: 'ENOENT', needsLocalWrite: false },
    driverAccess: 0x3ff | ACCESS_OPTIONAL,
    mrIndexes: { min: 1, max: 0xffffff, reserved: 0 },
    qpIndexes: { min: 0x100, max: 0xffffff, reserved: 8 },
    maxInlineData: 512,
    completions: HCA_COMPLETIONS,
  };
}

/**
 * An EFA device: dma-bufs through a pinned attachment, no ODP, no atomics. A
 * real EFA has no RC QPs (only UD and SRD); the emulated one gives RC QPs
 * RDMA read and write, so the same programs run on it.
 */
function efa(name: string): DeviceProfile {
  const mac = [0x02, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5];
  return {
    name,
    guid: guidOf(eui64(mac)),
    nodeType: NODE_UNSPECIFIED,
    transportType: TRANSPORT_UNSPECIFIED,
    attr: {
      fwVer: '0.0.0.0', vendorId: 0x1d0f, vendorPartId: 0xefa1, hwVer: 0xefa1, physPortCnt: 1,
      maxMrSize: 1n << 39n, pageSizeCap: 0xfffffffffffff000n, maxQp: 256, maxQpWr: 4096, maxSge: 2,
      maxCq: 512, maxCqe: 32768, maxMr: 262144, maxPd: 256, maxQpRdAtom: 16, maxQpInitRdAtom: 16,
      deviceCapFlags: 0, odpGeneralCaps: 0n, odpRcCaps: 0,
    },
    port: {
      maxMtu: MTU_4096, activeMtu: MTU_4096, linkLayer: LINK_UNSPECIFIED, activeSpeed: SPEED_EDR, activeWidth: WIDTH_4X,
      gidTblLen: 1, gids: [linkLocalGid(mac)],
    },
    dmaBuf: 'pinned',
    flush: false,
    // efa_alloc_mr: local write, remote read and (RDMA_WRITE devices) remote write; optional bits are dropped first.
    driverAccess: A.LOCAL_WRITE | A.REMOTE_READ | A.REMOTE_WRITE | ACCESS_OPTIONAL,
    mrIndexes: { min: 1, max: 0xffffff, reserved: 0 },
    qpIndexes: { min: 1, max: 0xffff, reserved: 0 },
    maxInlineData: 32,
    completions: HCA_COMPLETIONS,
  };
}

/** Each kind's profile, by its name and the kernel whose driver answers. */
export const PROFILES: Record<'rxe' | 'mlx5' | 'efa', (name: string, machine: Machine) => DeviceProfile> = { rxe, mlx5, efa };
export type ProfileKind = keyof typeof PROFILES;
