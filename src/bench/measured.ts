import { summarize, type Summary } from './stats';
import type { PeerRun } from './peers';

/** dmabridge's figure next to its peer's, measured in the same run; or why the peer did not run. */
export interface Measured {
  dmabridge: Summary;
  peer?: Summary;
  peerAbsent?: string;
}

/** A measurement, or why it could not be made on this machine. */
export type Step<T> = T | { skipped: string };

export function isSkipped<T>(step: Step<T>): step is { skipped: string } {
  return typeof step === 'object' && step !== null && 'skipped' in step;
}

/** dmabridge's summary next to the one picked from the peer's output, or the reason it is absent. */
export function against<T>(dmabridge: Summary, peer: PeerRun<T>, pick: (out: T) => readonly number[]): Measured {
  return 'out' in peer ? { dmabridge, peer: summarize(pick(peer.out)) } : { dmabridge, peerAbsent: peer.absent };
}
