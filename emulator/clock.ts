// The emulated machine's CLOCK_MONOTONIC and its kernel timers.
//
// Time runs with the real monotonic clock (or stands still with `manual`),
// plus whatever a test skips with advance() and whatever a blocking syscall
// slept through. Timers fire when their deadline passes: from a real timer
// that never holds the process open, from inside advance()/sleepUntil(), or
// from a poll that finds them due (fireDue()).

/** The clock as tests drive it. */
export interface EmulatorClock {
  /** Emulated CLOCK_MONOTONIC, in nanoseconds. */
  nowNs(): bigint;
  /** Moves time forward, firing the kernel timers that fall due, in order. */
  advance(ms: number): void;
}

interface Timer {
  deadline: bigint;
  fire: () => void;
  real?: NodeJS.Timeout;
}

const NS_PER_MS = 1_000_000n;

export class Clock implements EmulatorClock {
  readonly #start = process.hrtime.bigint();
  #skipped = 0n;
  readonly #timers = new Set<Timer>();

  constructor(private readonly manual: boolean) {}

  nowNs(): bigint {
    return (this.manual ? this.#start : process.hrtime.bigint()) + this.#skipped;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance() takes a duration of 0 ms or more, not ${ms}`);
    this.#skipped += BigInt(Math.round(ms * 1e6));
    this.#runDue();
  }

  /**
   * Fires the timers whose deadline has passed though their real timer has
   * not run yet (the event loop is busy: a program polling in a loop).
   */
  fireDue(): void {
    const now = this.nowNs();
    for (const t of this.#timers) {
      if (t.deadline <= now) {
        this.#runDue();
        return;
      }
    }
  }

  /** Arms a timer; the returned function disarms it. */
  setTimer(delayMs: number, fire: () => void): () => void {
    const timer: Timer = { deadline: this.nowNs() + BigInt(delayMs) * NS_PER_MS, fire };
    this.#timers.add(timer);
    this.#armReal(timer);
    return () => this.#cancel(timer);
  }

  /**
   * A syscall that blocks until `done()`: the process sleeps, so emulated
   * time jumps to each next timer until one makes `done()` true.
   */
  sleepUntil(done: () => boolean): void {
    while (!done()) {
      const next = this.#byDeadline()[0];
      if (!next) throw new Error('the emulated process would block forever: nothing left to wake it');
      const gap = next.deadline - this.nowNs();
      if (gap > 0n) this.#skipped += gap;
      this.#runDue();
    }
  }

  #armReal(timer: Timer): void {
    if (this.manual) return;
    const ms = Number((timer.deadline - this.nowNs() + NS_PER_MS - 1n) / NS_PER_MS);
    timer.real = setTimeout(() => this.#runDue(), Math.max(ms, 0)).unref();
  }

  #cancel(timer: Timer): void {
    clearTimeout(timer.real);
    this.#timers.delete(timer);
  }

  #byDeadline(): Timer[] {
    return [...this.#timers].sort((a, b) => (a.deadline < b.deadline ? -1 : a.deadline > b.deadline ? 1 : 0));
  }

  #runDue(): void {
    for (let next = this.#byDeadline()[0]; next && next.deadline <= this.nowNs(); next = this.#byDeadline()[0]) {
      this.#cancel(next);
      next.fire();
    }
    // Time may have jumped, and a real timer may wake a little early: the
    // real timers of those left are set again from the emulated deadlines.
    for (const t of this.#timers) {
      clearTimeout(t.real);
      this.#armReal(t);
    }
  }
}
