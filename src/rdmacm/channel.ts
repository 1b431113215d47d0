import type { Backend, Watch } from '../../seam/backend';
import type { RdmaCmEvent } from '../../seam/backend-rdmacm';
import { systemError } from '../../seam/system-error';
import * as uapi from '../../seam/uapi';
import type { WaitOptions } from '../wait';

interface Waiter {
  resolve(e: RdmaCmEvent): void;
  reject(e: Error): void;
}

/** What an id does with its events: queue them for next(), and/or react to them at once. */
export interface CmSubscriber {
  /** Called for every event of the id as it is read; return true to consume it (not queued). */
  onEvent?(e: RdmaCmEvent): boolean;
}

/**
 * An rdma_cm event channel shared by a listener and the connections it
 * accepts (their ids report on the listening id's channel). Its fd is
 * watched while anyone waits or any id reacts to events, and events are
 * routed to their id: CONNECT_REQUEST to the listening id.
 */
export class CmChannel {
  readonly handle: number;
  readonly fd: number;
  readonly #queues = new Map<number, RdmaCmEvent[]>();
  readonly #waiters = new Map<number, Waiter[]>();
  readonly #subscribers = new Map<number, CmSubscriber>();
  #watch: Watch | undefined;
  #users = 0;
  #destroyed = false;

  constructor(readonly seam: Backend) {
    const { handle, fd } = seam.rdmaCreateEventChannel();
    this.handle = handle;
    this.fd = fd;
  }

  /** Adds an id that reports here; the channel is destroyed when the last one is removed. */
  add(id: number): void {
    this.#users++;
    this.#queues.set(id, []);
  }

  /** Hands the id's events to `subscriber` as they come, watching the fd meanwhile. */
  subscribe(id: number, subscriber: CmSubscriber): void {
    this.#subscribers.set(id, subscriber);
    for (const e of this.#queues.get(id)?.splice(0) ?? []) subscriber.onEvent?.(e);
    this.#rewatch();
  }

  /** Destroys the channel where no id was ever added to it. */
  closeUnused(): void {
    if (this.#users === 0 && !this.#destroyed) this.#destroy();
  }

  remove(id: number): void {
    const queued = this.#queues.get(id);
    if (!queued) return;
    this.#queues.delete(id);
    // Requests nobody took from a listener that is going: refused, not left half-open.
    for (const e of queued) {
      if (e.listenId !== id) continue;
      this.seam.rdmaReject(e.id, new Uint8Array(0));
      this.seam.rdmaDestroyId(e.id);
      this.remove(e.id);
    }
    this.#subscribers.delete(id);
    const reason = systemError('ECANCELED', 'rdma_get_cm_event', 'the connection was closed while waiting for its event');
    for (const w of this.#waiters.get(id) ?? []) w.reject(reason);
    this.#waiters.delete(id);
    if (--this.#users === 0) this.#destroy();
    else this.#rewatch();
  }

  /** The next event for `id`, waiting through the event loop. */
  next(id: number, what: string, options: WaitOptions = {}): Promise<RdmaCmEvent> {
    this.#drain();
    const queued = this.#queues.get(id)?.shift();
    if (queued) return Promise.resolve(queued);
    const { timeout, signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<RdmaCmEvent>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        resolve: (e) => settle(() => resolve(e)),
        reject: (e) => settle(() => reject(e)),
      };
      const onAbort = () => waiter.reject(signal!.reason);
      const settle = (done: () => void) => {
        const list = this.#waiters.get(id);
        const at = list?.indexOf(waiter) ?? -1;
        if (at < 0) return;
        list!.splice(at, 1);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#rewatch();
        done();
      };
      if (timeout !== undefined) {
        timer = setTimeout(() => waiter.reject(systemError('ETIMEDOUT', 'rdma_get_cm_event', `no ${what} after ${timeout} ms`)), timeout);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      const list = this.#waiters.get(id) ?? [];
      list.push(waiter);
      this.#waiters.set(id, list);
      this.#rewatch();
    });
  }

  #drain(): void {
    if (this.#destroyed) return;
    for (let e = this.seam.rdmaGetCmEvent(this.handle); e; e = this.seam.rdmaGetCmEvent(this.handle)) {
      const owner = e.listenId !== 0 ? e.listenId : e.id;
      if (!this.#queues.has(owner)) {
        // A request for a listener that is gone, or an event for a closed id.
        if (e.listenId !== 0) this.seam.rdmaDestroyId(e.id);
        continue;
      }
      // The new id reports here from now on; whoever takes the request owns it.
      if (e.listenId !== 0) this.add(e.id);
      if (this.#subscribers.get(owner)?.onEvent?.(e)) continue;
      const waiter = this.#waiters.get(owner)?.[0];
      if (waiter) waiter.resolve(e);
      else this.#queues.get(owner)!.push(e);
      if (this.#destroyed) return;
    }
  }

  #rewatch(): void {
    if (this.#destroyed) return;
    let wanted = false;
    for (const list of this.#waiters.values()) if (list.length > 0) wanted = true;
    for (const s of this.#subscribers.values()) if (s.onEvent) wanted = true;
    if (wanted && !this.#watch) {
      this.#watch = this.seam.watch(this.fd, uapi.POLLIN, () => this.#drain());
    } else if (!wanted && this.#watch) {
      this.#watch.stop();
      this.#watch = undefined;
    }
  }

  #destroy(): void {
    this.#watch?.stop();
    this.#watch = undefined;
    this.#destroyed = true;
    this.seam.rdmaDestroyEventChannel(this.handle);
  }
}
