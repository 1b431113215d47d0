// The one codec of the packed layouts in which work requests and completions
// cross the seam (BigUint64Arrays, so that posting and polling allocate
// nothing). src/, the emulator, conformance and tests all pack and unpack
// them here; the addon (native/verbs) reads the same words in C++.
//
// Send work request: SEND_WR_WORDS words per request.
//  [0] wr_id
//  [1] opcode | send_flags << 8 | num_sge << 16   (num_sge 0 or 1)
//  [2] sge.addr
//  [3] sge.length | sge.lkey << 32
//  [4] wr.rdma.remote_addr
//  [5] wr.rdma.rkey | imm_data << 32
// Receive work request: [0] wr_id, [1] sge.addr, [2] sge.length | sge.lkey << 32
// (length 0: no SGE).
// Work completion: WC_WORDS words per completion.
//  [0] wr_id
//  [1] status | opcode << 8 | vendor_err << 16 (vendor_err 32 bits)
//  [2] byte_len | imm_data << 32
//  [3] qp_num | src_qp << 32
//  [4] wc_flags
// imm_data is in network byte order in both, as ibv_send_wr and ibv_wc hold it.
import { IBV_WR } from './verbs-uapi';

export const SEND_WR_WORDS = 6;
export const RECV_WR_WORDS = 3;
export const WC_WORDS = 5;

export interface Sge {
  addr: bigint;
  length: number;
  lkey: number;
}

/** ibv_send_wr, as far as the layout carries it. */
export interface SendWr {
  wrId: bigint;
  /** IBV_WR.* */
  opcode: number;
  /** IBV_SEND.* */
  flags: number;
  /** The one SGE the layout carries: present when num_sge is 1, whatever its length. */
  sge?: Sge;
  remoteAddr: bigint;
  rkey: number;
  /** Network byte order. */
  imm: number;
}

/** ibv_recv_wr, as far as the layout carries it. */
export interface RecvWr {
  wrId: bigint;
  /** Absent when its length is 0: the layout has no num_sge. */
  sge?: Sge;
}

/** ibv_wc, as far as the layout carries it. */
export interface Wc {
  wrId: bigint;
  /** IBV_WC_STATUS.* */
  status: number;
  /** IBV_WC_OPCODE.* */
  opcode: number;
  vendorErr: number;
  byteLen: number;
  /** Network byte order. */
  imm: number;
  qpNum: number;
  srcQp: number;
  /** IBV_WC.* */
  flags: number;
}

/** The opcodes the layout carries: the others hold pointers (bind MW, TSO) or fields it has no room for (atomics). */
const POSTABLE = new Set<number>([
  IBV_WR.RDMA_WRITE, IBV_WR.RDMA_WRITE_WITH_IMM, IBV_WR.SEND, IBV_WR.SEND_WITH_IMM, IBV_WR.RDMA_READ,
  IBV_WR.LOCAL_INV, IBV_WR.SEND_WITH_INV,
]);

const LOW32 = 0xffffffffn;
const sgeWord = (sge: Sge | undefined): bigint => (sge ? BigInt(sge.length) | (BigInt(sge.lkey) << 32n) : 0n);

function decodeSge(addr: bigint, word: bigint): Sge | undefined {
  const length = Number(word & LOW32);
  return length === 0 ? undefined : { addr, length, lkey: Number(word >> 32n) };
}

/** Packs request `i` of `w`. */
export function encodeSend(w: BigUint64Array, i: number, wr: SendWr): void {
  const b = i * SEND_WR_WORDS;
  w[b] = wr.wrId;
  w[b + 1] = BigInt(wr.opcode | (wr.flags << 8) | ((wr.sge ? 1 : 0) << 16));
  w[b + 2] = wr.sge?.addr ?? 0n;
  w[b + 3] = sgeWord(wr.sge);
  w[b + 4] = wr.remoteAddr;
  w[b + 5] = BigInt(wr.rkey) | (BigInt(wr.imm >>> 0) << 32n);
}

/**
 * Unpacks request `i` of `w`, or says why the layout cannot carry it. These
 * are the addon's refusals too (native/verbs/post.cc, where they also keep
 * the provider from reading pointers the layout does not hold); a backend
 * that decodes here need not check them again.
 */
export function decodeSend(w: BigUint64Array, i: number): SendWr | { refused: string } {
  const b = i * SEND_WR_WORDS;
  const control = Number(w[b + 1]);
  const opcode = control & 0xff;
  const numSge = (control >> 16) & 0xff;
  if (control >= 2 ** 24) return { refused: 'word 1 has bits set above num_sge' };
  if (numSge > 1) return { refused: 'num_sge is more than the one SGE the layout carries' };
  if (!POSTABLE.has(opcode)) return { refused: 'the opcode needs fields the layout does not carry' };
  const w5 = w[b + 5]!;
  return {
    wrId: w[b]!, opcode, flags: (control >> 8) & 0xff,
    sge: numSge === 1 ? { addr: w[b + 2]!, length: Number(w[b + 3]! & LOW32), lkey: Number(w[b + 3]! >> 32n) } : undefined,
    remoteAddr: w[b + 4]!, rkey: Number(w5 & LOW32), imm: Number(w5 >> 32n),
  };
}

export function encodeRecv(w: BigUint64Array, i: number, wr: RecvWr): void {
  const b = i * RECV_WR_WORDS;
  w[b] = wr.wrId;
  w[b + 1] = wr.sge?.addr ?? 0n;
  w[b + 2] = sgeWord(wr.sge);
}

export function decodeRecv(w: BigUint64Array, i: number): RecvWr {
  const b = i * RECV_WR_WORDS;
  return { wrId: w[b]!, sge: decodeSge(w[b + 1]!, w[b + 2]!) };
}

export function encodeWc(out: BigUint64Array, i: number, wc: Wc): void {
  const b = i * WC_WORDS;
  out[b] = wc.wrId;
  out[b + 1] = BigInt(wc.status | (wc.opcode << 8)) | (BigInt(wc.vendorErr >>> 0) << 16n);
  out[b + 2] = BigInt(wc.byteLen) | (BigInt(wc.imm >>> 0) << 32n);
  out[b + 3] = BigInt(wc.qpNum) | (BigInt(wc.srcQp) << 32n);
  out[b + 4] = BigInt(wc.flags);
}

export function decodeWc(out: BigUint64Array, i: number): Wc {
  const b = i * WC_WORDS;
  const w1 = out[b + 1]!, w2 = out[b + 2]!, w3 = out[b + 3]!;
  return {
    wrId: out[b]!,
    status: Number(w1 & 0xffn),
    opcode: Number((w1 >> 8n) & 0xffn),
    vendorErr: Number((w1 >> 16n) & LOW32),
    byteLen: Number(w2 & LOW32),
    imm: Number(w2 >> 32n),
    qpNum: Number(w3 & LOW32),
    srcQp: Number(w3 >> 32n),
    flags: Number(out[b + 4]!),
  };
}

/** htonl and ntohl on the little-endian hosts dmabridge runs on: the same byte swap. */
export function byteSwap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
