// sync_file: a dma_fence as an fd (drivers/dma-buf/sync_file.c).
import type { FenceInfo } from '../seam/backend';
import { systemError } from '../seam/system-error';
import { O_RDONLY, POLLIN } from '../seam/uapi';
import { SYNC_NAME_LEN } from './abi';
import { DmaFence, mergeFences } from './fence';
import { FileObject, OpenFile } from './files';
import type { Machine } from './machine';
import { WaitQueue } from './poll';

/** What SYNC_IOC_FILE_INFO writes back. */
export interface SyncFileInfoReply {
  name: string;
  status: number;
  numFences: number;
  fences: FenceInfo[];
}

/** The bytes a char[size] field keeps of `s`: size - 1, then the NUL. */
export function nameField(s: string, size = SYNC_NAME_LEN): string {
  const bytes = Buffer.from(s);
  return bytes.length < size ? s : bytes.subarray(0, size - 1).toString();
}

export class SyncFileObject implements FileObject {
  readonly inode;
  readonly waitQueue = new WaitQueue();
  #pollEnabled = false;

  constructor(private readonly machine: Machine, readonly fence: DmaFence, private readonly userName: string) {
    this.inode = machine.anonInode;
  }

  /** sync_file_create: the file is O_RDONLY, as anon_inode_getfile makes it. */
  static open(machine: Machine, fence: DmaFence, userName = ''): OpenFile {
    return new OpenFile(new SyncFileObject(machine, fence, userName), O_RDONLY);
  }

  dname(): string {
    return 'anon_inode:sync_file';
  }

  /** EPOLLIN once signalled, error or not; never EPOLLOUT. */
  poll(): number {
    if (!this.#pollEnabled) {
      this.#pollEnabled = true;
      if (!this.fence.addCallback(() => this.waitQueue.wake())) this.waitQueue.wake();
    }
    return this.fence.signaled ? POLLIN : 0;
  }

  get name(): string {
    if (this.userName) return this.userName;
    const f = this.fence;
    return nameField(`${f.driverName}-${f.timelineName}${f.context}-${f.seqno}`);
  }

  /** SYNC_IOC_FILE_INFO with `numFences` entries of room (0: just count them). */
  info(numFences: number): SyncFileInfoReply {
    const fences = this.fence.unwrap();
    if (numFences === 0) return { name: this.name, status: this.fence.status, numFences: fences.length, fences: [] };
    if (numFences < fences.length) throw systemError('EINVAL', 'SYNC_IOC_FILE_INFO');
    let status = 1;
    const entries = fences.map((f): FenceInfo => {
      if (status > 0) status = f.status;
      return {
        objName: nameField(f.timelineName),
        driverName: nameField(f.driverName),
        status: f.status,
        flags: 0,
        timestampNs: f.signaled ? f.timestampNs : 0n,
      };
    });
    return { name: this.name, status, numFences: fences.length, fences: entries };
  }

  /** SYNC_IOC_MERGE: a new file with the user's name. */
  merge(other: SyncFileObject, name: string): OpenFile {
    const fence = mergeFences(this.machine.clock, () => this.machine.fenceContext(), [this.fence, other.fence]);
    return SyncFileObject.open(this.machine, fence, nameField(name));
  }
}
