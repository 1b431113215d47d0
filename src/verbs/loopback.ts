import type { CompletionQueue } from './cq';
import type { ProtectionDomain } from './pd';
import type { QueuePair, QueuePairOptions } from './qp';

/**
 * Two RC QPs of one PD connected to each other: all RDMA needs to move bytes
 * on one machine. `qp` completes on `cq` with `options`; its peer on
 * `peerCq` (default: the same CQ). Hold the peer: a QP nothing refers to is
 * closed by its finalizer. (The demo, the bench and the tests use it.)
 */
export function loopbackPair(
  pd: ProtectionDomain, cq: CompletionQueue, options: QueuePairOptions = {}, peerCq = cq,
): { qp: QueuePair; peer: QueuePair } {
  const qp = pd.createQp(cq, cq, options);
  const peer = pd.createQp(peerCq);
  qp.connect(peer.endpoint());
  peer.connect(qp.endpoint());
  return { qp, peer };
}
