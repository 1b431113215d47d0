// The packed layouts are read by the addon as 64-bit words (native/verbs/post.cc,
// cq.cc): the codec writes and reads their 32-bit fields through 32-bit
// halves, and must still lay every field where those words say.
import { describe, expect, it } from 'vitest';
import {
  decodeRecv, decodeSend, decodeWc, encodeRecv, encodeSend, encodeWc, RECV_WR_WORDS, SEND_WR_WORDS, WC_WORDS, wcWords,
} from '../../seam/work-requests';
import { IBV_WR } from '../../seam/verbs-uapi';

const U64_MAX = 2n ** 64n - 1n;

describe('the work request and completion codec', () => {
  it('lays a send request where the addon reads it, and reads it back', () => {
    // Two requests and an offset view: fields of one never spill into the other.
    const w = new BigUint64Array(new ArrayBuffer(8 * (SEND_WR_WORDS * 2 + 1)), 8, SEND_WR_WORDS * 2);
    const wr = {
      wrId: U64_MAX, opcode: IBV_WR.RDMA_WRITE_WITH_IMM, flags: 0xff, sge: { addr: U64_MAX - 1n, length: 0xffffffff, lkey: 0xfffffffe },
      remoteAddr: 2n ** 63n + 5n, rkey: 0xffffffff, imm: 0x80000001,
    };
    encodeSend(w, 1, wr);
    expect([...w.subarray(SEND_WR_WORDS)]).toEqual([
      wr.wrId, BigInt(wr.opcode | (0xff << 8) | (1 << 16)), wr.sge.addr, 0xfffffffe_ffffffffn, wr.remoteAddr, 0x80000001_ffffffffn,
    ]);
    expect([...w.subarray(0, SEND_WR_WORDS)]).toEqual(Array(SEND_WR_WORDS).fill(0n));
    expect(decodeSend(w, 1)).toEqual(wr);
    encodeSend(w, 0, { ...wr, sge: undefined });
    expect(w[2]).toBe(0n);
    expect(w[3]).toBe(0n);
    expect(decodeSend(w, 0)).toEqual({ ...wr, sge: undefined });
  });

  it('refuses a control word with any bit set above num_sge, in either half', () => {
    const w = new BigUint64Array(SEND_WR_WORDS);
    for (const control of [1n << 24n, 1n << 32n, 1n << 63n]) {
      w[1] = BigInt(IBV_WR.SEND) | control;
      expect(decodeSend(w, 0)).toEqual({ refused: 'word 1 has bits set above num_sge' });
    }
    w[1] = BigInt(IBV_WR.SEND) | (2n << 16n);
    expect(decodeSend(w, 0)).toEqual({ refused: 'num_sge is more than the one SGE the layout carries' });
  });

  it('lays a receive request where the addon reads it; length 0 is no SGE', () => {
    const w = new BigUint64Array(RECV_WR_WORDS * 2);
    const wr = { wrId: 1n << 40n, sge: { addr: 0x1234_5678_9abcn, length: 0x80000000, lkey: 0xdeadbeef } };
    encodeRecv(w, 1, wr);
    expect([...w.subarray(RECV_WR_WORDS)]).toEqual([wr.wrId, wr.sge.addr, 0xdeadbeef_80000000n]);
    expect(decodeRecv(w, 1)).toEqual(wr);
    encodeRecv(w, 0, { wrId: 3n });
    expect(decodeRecv(w, 0)).toEqual({ wrId: 3n, sge: undefined });
  });

  it('reads a completion from the words the addon writes, vendor_err all 32 bits', () => {
    const out = wcWords(2);
    const wc = { wrId: U64_MAX, status: 12, opcode: 0x81, vendorErr: 0xfedcba98, byteLen: 0xffffffff, imm: 0x01020304, qpNum: 0xffffff, srcQp: 0x123456, flags: 0x3f };
    // As native/verbs/cq.cc packs it.
    out[WC_WORDS] = wc.wrId;
    out[WC_WORDS + 1] = BigInt(wc.status) | (BigInt(wc.opcode) << 8n) | (BigInt(wc.vendorErr) << 16n);
    out[WC_WORDS + 2] = BigInt(wc.byteLen) | (BigInt(wc.imm) << 32n);
    out[WC_WORDS + 3] = BigInt(wc.qpNum) | (BigInt(wc.srcQp) << 32n);
    out[WC_WORDS + 4] = BigInt(wc.flags);
    expect(decodeWc(out, 1)).toEqual(wc);
    const packed = [...out.subarray(WC_WORDS)];
    encodeWc(out, 0, wc);
    expect([...out.subarray(0, WC_WORDS)]).toEqual(packed);
  });
});
