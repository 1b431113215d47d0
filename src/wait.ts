import type { Backend } from '../seam/backend';
import { systemError } from '../seam/system-error';

export interface WaitOptions {
  /** Milliseconds before the wait rejects with ETIMEDOUT. Default: no limit. */
  timeout?: number;
  signal?: AbortSignal;
}

/**
 * Resolves with the ready events once `fd` is ready for any of `events`,
 * without blocking the event loop: a readiness watch, never a busy poll.
 * `register` hooks the wait to its owner so closing the owner cancels it
 * before the fd is closed.
 */
export function waitReady(
  backend: Backend,
  fd: number,
  events: number,
  options: WaitOptions,
  register: (cancel: (reason: Error) => void) => () => void,
): Promise<number> {
  const { timeout, signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const now = backend.poll(fd, events);
  if (now) return Promise.resolve(now);
  return new Promise<number>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (settle: () => void) => {
      watch.stop();
      unregister();
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(signal!.reason));
    const watch = backend.watch(fd, events, (revents) => finish(() => resolve(revents)));
    const unregister = register((reason) => finish(() => reject(reason)));
    if (timeout !== undefined) {
      timer = setTimeout(
        () => finish(() => reject(systemError('ETIMEDOUT', 'poll', `not ready after ${timeout} ms`))),
        timeout,
      );
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
