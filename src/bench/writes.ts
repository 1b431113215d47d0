// dmabridge's RDMA WRITE loop, shared by the one-host measurement and the
// two-host one (scripts/bench/cluster.js).
import type { CompletionQueue } from '../verbs/cq';
import type { QueuePair, SendRequest } from '../verbs/qp';
import { nowNs } from './stats';

/** Outstanding writes, as perftest's default --tx-depth. */
export const DEPTH = 128;
/** Requests per postSend; the last of each batch is signalled. */
export const BATCH = 32;

export interface WritePair {
  qp: QueuePair;
  cq: CompletionQueue;
  batch: SendRequest[];
  /**
   * The QP and MR the writes land in, where this process owns them: held for
   * the run, as nothing else refers to them and the collector would close
   * them mid-run, leaving the writes retrying towards a QP that is gone.
   */
  sink?: readonly object[];
}

/** BATCH copies of one write, only the last signalled. */
export function writeBatch(request: Omit<SendRequest, 'signaled'>): SendRequest[] {
  return Array.from({ length: BATCH }, (_, i) => ({ ...request, signaled: i === BATCH - 1 }));
}

/** Posts batches while fewer than DEPTH of `count` writes are outstanding; returns how many are posted now. */
export function topUp({ qp, batch }: WritePair, posted: number, done: number, count: number): number {
  while (posted < count && posted - done + BATCH <= DEPTH) {
    qp.postSend(batch);
    posted += BATCH;
  }
  return posted;
}

/** Posts `count` writes keeping DEPTH outstanding; returns seconds from first post to last completion. */
export function writeLoop(pair: WritePair, count: number): number {
  let posted = 0, done = 0;
  const t0 = nowNs();
  while (done < count) {
    posted = topUp(pair, posted, done, count);
    done += pair.cq.pollCount(16) * BATCH;
  }
  return (nowNs() - t0) / 1e9;
}

/** One signalled write whose completion is decoded: a failed run must not pass as a fast one. */
export function checkWrites({ qp, cq, batch }: WritePair): void {
  qp.postSend([{ ...batch[0]!, signaled: true }]);
  let wc;
  while (!(wc = cq.poll(1)[0]));
  if (wc.status !== 'success') throw new Error(`RDMA write failed: ${wc.status}`);
}
