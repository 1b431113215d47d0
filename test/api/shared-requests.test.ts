// Work requests in a BigUint64Array over a SharedArrayBuffer may be rewritten
// by another thread while a post reads them: each word is read once, so what
// the checks passed is what the provider gets. A worker flips request 0
// between a valid RDMA WRITE and one the layout must refuse (two SGEs, inline,
// an atomic opcode); every post either posts the valid one or refuses.
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, expect } from 'vitest';
import type { DmaBridge } from '../../src';
import type { VerbsCalls } from '../../seam/backend-verbs';
import { IBV_SEND, IBV_WR } from '../../seam/verbs-uapi';
import { encodeSend, SEND_WR_WORDS } from '../../seam/work-requests';
import type { CompletionQueue } from '../../src/verbs/cq';
import type { QueuePair } from '../../src/verbs/qp';
import { loopbackPair } from '../../src/verbs/loopback';
import { DEVICES, describeEachBackend, itWith, openOn } from '../support/backends';

const POSTS = 300;

describeEachBackend('work requests shared with another thread', (b) => {
  const it = itWith(b, DEVICES.rxe);
  let dmb: DmaBridge;
  let cq: CompletionQueue;
  let a: QueuePair;
  let z: QueuePair;

  beforeEach(() => {
    dmb = openOn(b);
    const dev = dmb.openRdma('rxe0');
    const pd = dev.allocPd();
    cq = dev.createCq(16);
    ({ qp: a, peer: z } = loopbackPair(pd, cq));
  });
  afterEach(() => dmb.close());

  it('are read once: a request rewritten during the post is posted as checked or refused', async () => {
    const pd = a.pd;
    const src = pd.register(new Uint8Array(new SharedArrayBuffer(64)).fill(1));
    const dst = pd.register(new Uint8Array(new SharedArrayBuffer(64)), { access: ['local-write', 'remote-write'] });
    const words = new BigUint64Array(new SharedArrayBuffer(SEND_WR_WORDS * 8));
    encodeSend(words, 0, { wrId: 7n, opcode: IBV_WR.RDMA_WRITE, flags: IBV_SEND.SIGNALED, sge: { addr: src.addr, length: 64, lkey: src.lkey }, remoteAddr: dst.addr, rkey: dst.rkey, imm: 0 });
    const good = words[1];
    // An atomic, inline, with two SGEs: what the control word must never be taken for.
    const bad = BigInt(IBV_WR.ATOMIC_CMP_AND_SWP | ((IBV_SEND.SIGNALED | IBV_SEND.INLINE) << 8) | (2 << 16));
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(`
      const { workerData: { words, stop, good, bad } } = require('node:worker_threads');
      while (Atomics.load(stop, 0) === 0) { words[1] = bad; words[1] = good; }
    `, { eval: true, workerData: { words, stop, good, bad } });
    const kernel = dmb.seam as VerbsCalls;
    let posted = 0, refused = 0;
    try {
      for (let i = 0; i < POSTS; i++) {
        try {
          kernel.ibvPostSend(a.handle, words, 1);
        } catch (e) {
          expect(e).toMatchObject({ code: 'EINVAL', syscall: 'ibv_post_send', index: 0 });
          refused++;
          continue;
        }
        posted++;
        expect(await cq.next({ timeout: 10000 })).toMatchObject({ wrId: 7n, status: 'success', opcode: 'rdma-write' });
      }
    } finally {
      Atomics.store(stop, 0, 1);
      await worker.terminate();
    }
    expect(posted + refused).toBe(POSTS);
    expect(posted).toBeGreaterThan(0);
  });
});
