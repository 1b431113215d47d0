// The "no indefinite fences" rule (seed 003; the dma-buf docs' "Indefinite
// DMA Fences"): a fence must signal in bounded time, or memory management
// that waits on it deadlocks. The emulated machine watches every fence and
// records a warning, as a kernel's hang check would log one, for each fence
// still unsignalled past the deadline. vgem's fences force-signal at 10 s,
// which the default deadline (10 s, drm_sched's and i915's usual fence
// timeout) allows, so they never warn.
import type { Clock } from './clock';
import type { DmaFence } from './fence';

export interface FenceWarning {
  driver: string;
  timeline: string;
  context: bigint;
  seqno: bigint;
  /** How long it had been pending when the warning was made. */
  ageMs: number;
  message: string;
}

export const DEFAULT_FENCE_DEADLINE_MS = 10_000;

const watchdogs = new WeakMap<Clock, FenceWatchdog>();

export class FenceWatchdog {
  readonly warnings: FenceWarning[] = [];

  constructor(private readonly clock: Clock, readonly deadlineMs: number) {
    watchdogs.set(clock, this);
  }

  /** Called for each fence made on the clock's machine. */
  watch(fence: DmaFence): void {
    const born = this.clock.nowNs();
    // Past the deadline, not at it: a fence that signals exactly then is in time.
    const disarm = this.clock.setTimer(this.deadlineMs + 1, () => {
      if (fence.signaled) return;
      const ageMs = Number((this.clock.nowNs() - born) / 1_000_000n);
      this.warnings.push({
        driver: fence.driverName, timeline: fence.timelineName, context: fence.context, seqno: fence.seqno, ageMs,
        message: `dma_fence ${fence.context}:${fence.seqno} of ${fence.driverName}/${fence.timelineName} ` +
          `unsignalled after ${ageMs} ms: a fence must signal in bounded time`,
      });
    });
    fence.addCallback(disarm);
  }
}

export function watchdogOf(clock: Clock): FenceWatchdog | undefined {
  return watchdogs.get(clock);
}
