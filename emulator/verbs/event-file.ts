// uverbs event files (anon_inode:[infinibandevent]): a completion channel's
// CQ events and a context's async events, readable while any is queued.
import { O_RDONLY, POLLIN } from '../../seam/uapi';
import { O_NONBLOCK } from '../abi';
import { FileObject, Inode, OpenFile } from '../files';
import { WaitQueue } from '../poll';

export class EventFile<T> implements FileObject {
  readonly waitQueue = new WaitQueue();
  readonly #events: T[] = [];

  constructor(readonly inode: Inode) {}

  /**
   * uverbs makes the file O_RDONLY; libibverbs' callers (the addon included)
   * set O_NONBLOCK so that reading never blocks.
   */
  open(): OpenFile {
    return new OpenFile(this, O_RDONLY | O_NONBLOCK);
  }

  dname(): string {
    return 'anon_inode:[infinibandevent]';
  }

  poll(): number {
    return this.#events.length > 0 ? POLLIN : 0;
  }

  push(event: T): void {
    this.#events.push(event);
    this.waitQueue.wake();
  }

  /** The oldest event, or undefined (EAGAIN on the non-blocking fd). */
  take(): T | undefined {
    return this.#events.shift();
  }

  /** Drops the queued events `drop` picks. */
  remove(drop: (event: T) => boolean): void {
    for (let i = this.#events.length - 1; i >= 0; i--) if (drop(this.#events[i])) this.#events.splice(i, 1);
  }
}
