// The event side of a completion queue: one readiness watch on its channel,
// kept while anything waits, so a wait costs no watch made and destroyed
// (each was some ten syscalls, six of them epoll_ctl); one arming per event;
// events acknowledged in batches.
import type { Backend, Watch } from '../../seam/backend';
import * as uapi from '../../seam/uapi';
import { pending, type WaitOptions } from '../wait';

/** Events taken before ibv_ack_cq_events is called for all of them (it takes a lock). */
const ACK_BATCH = 32;

export class CqEvents {
  #watch: Watch | undefined;
  #armed = false;
  #unacked = 0;
  #idleCheck = false;
  readonly #waiters = new Set<() => void>();

  constructor(
    private readonly seam: Backend,
    private readonly cq: number,
    private readonly channel: { handle: number; fd: number },
  ) {}

  /** Requests an event for the next completion, unless one is requested already. */
  arm(): void {
    if (this.#armed) return;
    this.seam.ibvReqNotifyCq(this.cq, false);
    this.#armed = true;
  }

  /** Resolves once the channel has an event for this CQ (taken, and acknowledged later). */
  wait(options: WaitOptions | undefined, register: (cancel: (reason: Error) => void) => () => void): Promise<void> {
    return pending<void>(options, register, (resolve) => {
      this.#watch ??= this.seam.watch(this.channel.fd, uapi.POLLIN, () => this.#fired());
      this.#waiters.add(resolve);
      return () => {
        this.#waiters.delete(resolve);
        this.#stopWhenIdle();
      };
    });
  }

  #fired(): void {
    while (this.seam.ibvGetCqEvent(this.channel.handle) >= 0) this.#unacked++;
    this.#armed = false;
    if (this.#unacked >= ACK_BATCH) this.#ack();
    for (const wake of [...this.#waiters]) wake();
  }

  // The watch would keep the process alive: it goes once nothing waits at the
  // end of this turn. A program that waits again straight away (a ping-pong,
  // a `for await`) keeps it.
  #stopWhenIdle(): void {
    if (this.#waiters.size || this.#idleCheck || !this.#watch) return;
    this.#idleCheck = true;
    setImmediate(() => {
      this.#idleCheck = false;
      if (this.#waiters.size) return;
      this.#watch?.stop();
      this.#watch = undefined;
    });
  }

  #ack(): void {
    if (this.#unacked) this.seam.ibvAckCqEvents(this.cq, this.#unacked);
    this.#unacked = 0;
  }

  /** Before the CQ and its channel are destroyed: stops the watch, acknowledges what was taken. */
  release(): void {
    this.#watch?.stop();
    this.#watch = undefined;
    this.#ack();
  }
}
