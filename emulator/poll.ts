// Readiness: the wait queues files wake when their state changes, and the
// watches the Backend hands out (uv_poll on native).
import type { Watch } from '../seam/backend';

/** A kernel wait_queue_head: who to tell when a file may have become ready. */
export class WaitQueue {
  readonly #waiters = new Set<() => void>();

  /** Returns the function that removes the waiter. */
  add(waiter: () => void): () => void {
    this.#waiters.add(waiter);
    return () => this.#waiters.delete(waiter);
  }

  wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/**
 * A level-triggered watch, as libuv's uv_poll over epoll: while the file is
 * ready the callback runs once per turn of the event loop, never inside the
 * call that made the file ready. Like a live uv_poll handle it keeps the
 * event loop alive until stopped.
 */
export class FileWatch implements Watch {
  #stopped = false;
  #scheduled = false;
  readonly #leave: () => void;
  readonly #keepAlive = setInterval(() => {}, 2 ** 31 - 1);

  constructor(
    private readonly poll: () => number,
    queue: WaitQueue,
    private readonly onReady: (revents: number) => void,
  ) {
    this.#leave = queue.add(() => this.#check());
    this.#check();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#leave();
    clearInterval(this.#keepAlive);
  }

  #check(): void {
    if (this.#stopped || this.#scheduled || this.poll() === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#stopped) return;
      const revents = this.poll();
      if (revents === 0) return;
      this.onReady(revents);
      this.#check();
    });
  }
}
