import { setImmediate as loopTurn } from 'node:timers/promises';
import { waitOptions, WaitOptions } from './args';
import type { Backend } from '../seam/backend';
import { systemError } from '../seam/system-error';

export type { WaitOptions };

/**
 * Resolves with the ready events once `fd` is ready for any of `events`,
 * without blocking the event loop: a readiness watch, never a busy poll.
 * `register` hooks the wait to its owner so closing the owner cancels it
 * before the fd is closed. The options are checked before anything is
 * registered, so a bad one leaves nothing behind.
 */
export function waitReady(
  backend: Backend,
  fd: number,
  events: number,
  options: WaitOptions | undefined,
  register: (cancel: (reason: Error) => void) => () => void,
): Promise<number> {
  const { signal } = waitOptions(options);
  if (signal?.aborted) return Promise.reject(signal.reason);
  const now = backend.poll(fd, events);
  if (now) return Promise.resolve(now);
  return pending<number>(options, register, (resolve) => {
    const watch = backend.watch(fd, events, resolve);
    return () => watch.stop();
  });
}

/**
 * A wait that settles once: when `start`'s resolve is called, or on the
 * options' timeout (ETIMEDOUT) or abort, or when `register`'s owner cancels
 * it. `start` begins the wait and returns what ends it; that runs once,
 * whichever way the wait settles. A throw from `start` rejects the wait.
 */
export function pending<T>(
  options: WaitOptions | undefined,
  register: (cancel: (reason: Error) => void) => () => void,
  start: (resolve: (value: T) => void) => () => void,
): Promise<T> {
  const { timeout, signal } = waitOptions(options);
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let end: (() => void) | undefined;
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      end?.();
      unregister();
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(signal!.reason));
    const unregister = register((reason) => finish(() => reject(reason)));
    try {
      end = start((value) => finish(() => resolve(value)));
    } catch (e) {
      finish(() => reject(e));
      return;
    }
    // Settled while starting: what ends it was not known yet.
    if (settled) {
      end();
      return;
    }
    if (timeout !== undefined) {
      timer = setTimeout(
        () => finish(() => reject(systemError('ETIMEDOUT', 'poll', `not ready after ${timeout} ms`))),
        timeout,
      );
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Turns of the event loop seen so far; counting schedules the next one. */
let turns = 0;
let counting = false;
function turnsSoFar(): number {
  if (!counting) {
    counting = true;
    setImmediate(() => {
      turns++;
      counting = false;
    }).unref();
  }
  return turns;
}

/**
 * Keeps an awaited loop fair: after `limit` results that came back without
 * the event loop turning in between, due() lets it turn once. Otherwise it
 * returns undefined, so a loop that does wait pays nothing but a counter.
 */
export class FairTurns {
  #seen = -1;
  #results = 0;
  constructor(private readonly limit = 32) {}

  due(): Promise<void> | undefined {
    const now = turnsSoFar();
    if (now !== this.#seen) {
      this.#seen = now;
      this.#results = 0;
    }
    if (++this.#results < this.limit) return undefined;
    this.#results = 0;
    return loopTurn();
  }
}
