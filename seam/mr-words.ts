// Where ibvRegMr and ibvRegDmabufMr put what they registered: into the
// caller's words, with the handle returned, rather than an object the addon
// builds (a call from C++ into JS with two BigInts: 7–13 µs of a 4 KiB
// registration's 63–73 µs in the TCG guest).
//  [0] lkey | rkey << 32
//  [1] addr (the iova, for a dma-buf MR)
//  [2] length
import type { IbvMr, VerbsCalls } from './backend-verbs';

export const MR_WORDS = 3;

/** Room for one registration's result. */
export function mrWords(): BigUint64Array {
  return new BigUint64Array(MR_WORDS);
}

export function encodeMr(out: BigUint64Array, mr: Omit<IbvMr, 'handle'>): void {
  out[0] = BigInt(mr.lkey) | (BigInt(mr.rkey) << 32n);
  out[1] = mr.addr;
  out[2] = mr.length;
}

/** The MR `handle` names, as its registration wrote it to `out`. */
export function decodeMr(handle: number, out: BigUint64Array): IbvMr {
  const keys = out[0]!;
  return { handle, lkey: Number(keys & 0xffffffffn), rkey: Number(keys >> 32n), addr: out[1]!, length: out[2]! };
}

/**
 * The words regMr and regDmabufMr pass, one result at a time (they decode it
 * before they return): made once, since a small typed array is made inside
 * V8's heap and moved out of it, at a cost, the first time N-API reads it.
 */
const scratch = mrWords();

/** ibvRegMr with its result as an object. */
export function regMr(k: Pick<VerbsCalls, 'ibvRegMr'>, pd: number, view: Uint8Array, access: number): IbvMr {
  return decodeMr(k.ibvRegMr(pd, view, access, scratch), scratch);
}

/** ibvRegDmabufMr with its result as an object. */
export function regDmabufMr(
  k: Pick<VerbsCalls, 'ibvRegDmabufMr'>, pd: number, offset: bigint, length: bigint, iova: bigint, fd: number, access: number,
): IbvMr {
  return decodeMr(k.ibvRegDmabufMr(pd, offset, length, iova, fd, access, scratch), scratch);
}
