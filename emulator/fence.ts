// dma_fence: a point on a timeline that signals once, with the containers
// (dma_fence_array) and stubs the dma-buf and sync_file code makes.
import type { Clock } from './clock';
import { watchdogOf } from './fence-deadline';

export class DmaFence {
  #signaled = false;
  #timestampNs = 0n;
  /** A negative errno set before signalling; 0 for success. */
  error = 0;
  readonly #callbacks = new Set<() => void>();

  constructor(
    protected readonly clock: Clock,
    readonly context: bigint,
    readonly seqno: bigint,
    readonly driverName: string,
    readonly timelineName: string,
  ) {
    watchdogOf(clock)?.watch(this);
  }

  get signaled(): boolean {
    return this.#signaled;
  }

  /** dma_fence_get_status: 1 signalled, 0 pending, or the error. */
  get status(): number {
    if (!this.#signaled) return 0;
    return this.error < 0 ? this.error : 1;
  }

  /** CLOCK_MONOTONIC ns of the signal; 0 while pending. */
  get timestampNs(): bigint {
    return this.#timestampNs;
  }

  /** Idempotent. Callbacks run at once, in the signalling context, as in the kernel. */
  signal(timestampNs = this.clock.nowNs()): void {
    if (this.#signaled) return;
    this.#signaled = true;
    this.#timestampNs = timestampNs;
    const callbacks = [...this.#callbacks];
    this.#callbacks.clear();
    for (const cb of callbacks) cb();
  }

  /** dma_fence_add_callback: false, adding nothing, once signalled. */
  addCallback(cb: () => void): boolean {
    if (this.#signaled) return false;
    this.#callbacks.add(cb);
    return true;
  }

  /** The fences dma_fence_unwrap_for_each visits: itself, or a container's members. */
  unwrap(): DmaFence[] {
    return [this];
  }

  isLaterOrSame(other: DmaFence): boolean {
    return this.seqno >= other.seqno;
  }
}

/** dma_fence_array with signal_on_any = false: signals once all members have. */
export class FenceArray extends DmaFence {
  #pending: number;

  constructor(clock: Clock, context: bigint, readonly members: DmaFence[]) {
    super(clock, context, 1n, 'dma_fence_array', 'unbound');
    this.#pending = members.length;
    for (const m of members) {
      const memberDone = () => {
        if (this.error === 0 && m.error < 0) this.error = m.error;
        if (--this.#pending === 0) this.signal();
      };
      if (!m.addCallback(memberDone)) memberDone();
    }
  }

  override unwrap(): DmaFence[] {
    return this.members.flatMap((m) => m.unwrap());
  }
}

/** A signalled fence standing for "nothing to wait for" (dma_fence_stub_ops). */
export function stubFence(clock: Clock, timestampNs: bigint): DmaFence {
  const stub = new DmaFence(clock, 0n, 0n, 'stub', 'stub');
  stub.signal(timestampNs);
  return stub;
}

/**
 * dma_fence_unwrap_merge: the pending members of all inputs, one per context
 * (the latest seqno), ordered by context. Nothing pending gives a signalled
 * stub stamped with the latest signal; one fence is returned as itself.
 */
export function mergeFences(clock: Clock, newContext: () => bigint, inputs: DmaFence[]): DmaFence {
  const all = inputs.flatMap((f) => f.unwrap());
  const pending = all.filter((f) => !f.signaled);
  if (pending.length === 0) {
    const latest = all.reduce((t, f) => (f.timestampNs > t ? f.timestampNs : t), 0n);
    return stubFence(clock, latest);
  }
  const byContext = new Map<bigint, DmaFence>();
  for (const f of pending) {
    const seen = byContext.get(f.context);
    if (!seen || f.isLaterOrSame(seen)) byContext.set(f.context, f);
  }
  const merged = [...byContext.values()].sort((a, b) => (a.context < b.context ? -1 : 1));
  return merged.length === 1 ? merged[0] : new FenceArray(clock, newContext(), merged);
}
