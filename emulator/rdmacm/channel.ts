// An event channel (rdma_create_event_channel): an open file of
// /dev/infiniband/rdma_cm, readable while events are queued. Its ids live
// and die with it: the file's release (the last close of its fd) destroys
// them, as ucma_close does.
import type { RdmaPeerParam } from '../../seam/backend-rdmacm';
import { O_RDWR, POLLIN } from '../../seam/uapi';
import { O_NONBLOCK } from '../abi';
import { FileObject, Inode, OpenFile } from '../files';
import { Device, Machine, MOUNT } from '../machine';
import { WaitQueue } from '../poll';
import type { IbDevice } from '../verbs/device';
import type { CmHost } from './host';
import type { CmId } from './id';

/** What the connection manager borrows from the process that made a channel: its verbs contexts, by device. */
export interface CmContext {
  /** An id now uses `device`: the context opens on first use, and stays open. */
  acquire(device: IbDevice): void;
}

export interface CmEvent {
  event: number;
  id: CmId;
  /** For CONNECT_REQUEST, the listening id. */
  listen: CmId | undefined;
  status: number;
  privateData: Uint8Array;
  param: RdmaPeerParam | null;
}

export class ChannelFile implements FileObject {
  readonly waitQueue = new WaitQueue();
  readonly #events: CmEvent[] = [];
  /** The ids whose events come here. */
  readonly ids = new Set<CmId>();

  #contexts: CmContext | undefined;

  constructor(readonly inode: Inode, readonly host: CmHost) {}

  /** The process that opened the channel lends its verbs contexts to the ids made on it. */
  lend(contexts: CmContext): void {
    this.#contexts = contexts;
  }

  get contexts(): CmContext {
    if (!this.#contexts) throw new Error('the channel was opened by no process that lends it verbs contexts');
    return this.#contexts;
  }

  /** librdmacm opens the node O_RDWR | O_CLOEXEC; the seam's fd is non-blocking. */
  open(): OpenFile {
    return new OpenFile(this, O_RDWR | O_NONBLOCK);
  }

  dname(): string {
    return '/dev/infiniband/rdma_cm';
  }

  poll(): number {
    return this.#events.length > 0 ? POLLIN : 0;
  }

  push(event: CmEvent): void {
    this.#events.push(event);
    this.waitQueue.wake();
  }

  take(): CmEvent | undefined {
    return this.#events.shift();
  }

  /** The events not yet taken that concern `id` (as the id, or as the listener of a request), removed (ucma_cleanup_ctx_events). */
  drop(id: CmId): CmEvent[] {
    const dropped: CmEvent[] = [];
    for (let i = this.#events.length - 1; i >= 0; i--) {
      const e = this.#events[i];
      if (e.id === id || e.listen === id) dropped.unshift(...this.#events.splice(i, 1));
    }
    return dropped;
  }

  release(): void {
    for (const id of [...this.ids]) id.destroy();
  }
}

/** /dev/infiniband/rdma_cm (rdma_ucm): each open is a new event channel of the machine's connection manager. */
export class RdmaCmNode implements Device {
  readonly inode;

  constructor(machine: Machine, private readonly host: CmHost) {
    this.inode = { ino: machine.nextIno(), mntId: MOUNT.devtmpfs };
  }

  open(): ChannelFile {
    return new ChannelFile(this.inode, this.host);
  }
}
