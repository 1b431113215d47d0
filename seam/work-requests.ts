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

/** Room for `n` completions, as ibvCreateCq binds it. */
export function wcWords(n: number): BigUint64Array {
  return new BigUint64Array(new SharedArrayBuffer(n * WC_WORDS * BigUint64Array.BYTES_PER_ELEMENT));
}

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

/**
 * The words' 32-bit halves (the low half first: dmabridge runs on
 * little-endian hosts), kept per array: 32-bit fields are read and written
 * there, since a BigInt made or split per field costs ~120 ns a completion on
 * the host and 20 times that under TCG.
 */
const halvesOf = new WeakMap<BigUint64Array, Uint32Array>();
function halves(w: BigUint64Array): Uint32Array {
  let h = halvesOf.get(w);
  if (!h) halvesOf.set(w, (h = new Uint32Array(w.buffer, w.byteOffset, w.length * 2)));
  return h;
}

function encodeSge(w: BigUint64Array, h: Uint32Array, addrWord: number, sge: Sge | undefined): void {
  w[addrWord] = sge?.addr ?? 0n;
  h[2 * addrWord + 2] = sge ? sge.length : 0;
  h[2 * addrWord + 3] = sge ? sge.lkey : 0;
}

/** Packs request `i` of `w`. */
export function encodeSend(w: BigUint64Array, i: number, wr: SendWr): void {
  const b = i * SEND_WR_WORDS, h = halves(w);
  w[b] = wr.wrId;
  h[2 * b + 2] = wr.opcode | (wr.flags << 8) | ((wr.sge ? 1 : 0) << 16);
  h[2 * b + 3] = 0;
  encodeSge(w, h, b + 2, wr.sge);
  w[b + 4] = wr.remoteAddr;
  h[2 * b + 10] = wr.rkey;
  h[2 * b + 11] = wr.imm;
}

/**
 * Unpacks request `i` of `w`, or says why the layout cannot carry it. These
 * are the addon's refusals too (native/verbs/post.cc, where they also keep
 * the provider from reading pointers the layout does not hold); a backend
 * that decodes here need not check them again.
 */
export function decodeSend(w: BigUint64Array, i: number): SendWr | { refused: string } {
  const b = i * SEND_WR_WORDS, h = halves(w);
  const control = h[2 * b + 2]!;
  const opcode = control & 0xff;
  const numSge = (control >>> 16) & 0xff;
  if (control >= 2 ** 24 || h[2 * b + 3] !== 0) return { refused: 'word 1 has bits set above num_sge' };
  if (numSge > 1) return { refused: 'num_sge is more than the one SGE the layout carries' };
  if (!POSTABLE.has(opcode)) return { refused: 'the opcode needs fields the layout does not carry' };
  return {
    wrId: w[b]!, opcode, flags: (control >>> 8) & 0xff,
    sge: numSge === 1 ? { addr: w[b + 2]!, length: h[2 * b + 6]!, lkey: h[2 * b + 7]! } : undefined,
    remoteAddr: w[b + 4]!, rkey: h[2 * b + 10]!, imm: h[2 * b + 11]!,
  };
}

export function encodeRecv(w: BigUint64Array, i: number, wr: RecvWr): void {
  const b = i * RECV_WR_WORDS;
  w[b] = wr.wrId;
  encodeSge(w, halves(w), b + 1, wr.sge);
}

export function decodeRecv(w: BigUint64Array, i: number): RecvWr {
  const b = i * RECV_WR_WORDS, h = halves(w);
  const length = h[2 * b + 4]!;
  return { wrId: w[b]!, sge: length === 0 ? undefined : { addr: w[b + 1]!, length, lkey: h[2 * b + 5]! } };
}

export function encodeWc(out: BigUint64Array, i: number, wc: Wc): void {
  const b = i * WC_WORDS, h = halves(out), x = 2 * b;
  out[b] = wc.wrId;
  h[x + 2] = wc.status | (wc.opcode << 8) | ((wc.vendorErr & 0xffff) << 16);
  h[x + 3] = wc.vendorErr >>> 16;
  h[x + 4] = wc.byteLen;
  h[x + 5] = wc.imm;
  h[x + 6] = wc.qpNum;
  h[x + 7] = wc.srcQp;
  h[x + 8] = wc.flags;
  h[x + 9] = 0;
}

export function decodeWc(out: BigUint64Array, i: number): Wc {
  const b = i * WC_WORDS, h = halves(out), x = 2 * b;
  const w1 = h[x + 2]!;
  return {
    wrId: out[b]!,
    status: w1 & 0xff,
    opcode: (w1 >>> 8) & 0xff,
    vendorErr: ((w1 >>> 16) | (h[x + 3]! << 16)) >>> 0,
    byteLen: h[x + 4]!,
    imm: h[x + 5]!,
    qpNum: h[x + 6]!,
    srcQp: h[x + 7]!,
    flags: h[x + 8]!,
  };
}

/** htonl and ntohl on the little-endian hosts dmabridge runs on: the same byte swap. */
export function byteSwap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
