// An RDMA device of the emulated machine (struct ib_device): its port, its
// pools of memory keys and QP numbers, and its uverbs node
// (/dev/infiniband/uverbsN), which libibverbs finds and opens.
import type { IbvAsyncEvent, IbvDeviceEntry, IbvPortAttr } from '../../seam/backend-verbs';
import { systemError } from '../../seam/system-error';
import type { FileObject } from '../files';
import { Device, Machine, MOUNT } from '../machine';
import type { EventFile } from './event-file';
import type { Fabric } from './fabric';
import { CyclicIds, keyIndex } from './keys';
import type { IbMr, MrState } from './mr';
import type { DeviceProfile } from './profiles';
import type { IbQp } from './qp';
import { IBV_EVENT, IBV_PORT } from '../../seam/verbs-uapi';

export class IbDevice {
  #portState: number = IBV_PORT.ACTIVE;
  readonly #mrIds: CyclicIds;
  readonly #qpIds: CyclicIds;
  readonly #mrs = new Map<number, IbMr>();
  readonly #qps = new Map<number, IbQp>();
  /** The async event files of the contexts open on this device. */
  readonly #listeners = new Set<EventFile<IbvAsyncEvent>>();

  constructor(readonly machine: Machine, readonly profile: DeviceProfile, readonly fabric: Fabric) {
    this.#mrIds = reservedIds(profile.mrIndexes);
    this.#qpIds = reservedIds(profile.qpIndexes);
    fabric.attach(this);
  }

  get name(): string {
    return this.profile.name;
  }

  entry(): IbvDeviceEntry {
    const { name, guid, nodeType, transportType } = this.profile;
    return { name, guid, nodeType, transportType };
  }

  /** ib_query_port: the one port is port 1. */
  portAttr(port: number, syscall: string): IbvPortAttr {
    this.#checkPort(port, syscall);
    const { maxMtu, activeMtu, gidTblLen, linkLayer, activeSpeed, activeWidth } = this.profile.port;
    return { state: this.#portState, maxMtu, activeMtu, gidTblLen, lid: 0, linkLayer, activeSpeed, activeWidth };
  }

  /** ibv_query_gid: an empty entry reads as zeros, as rdma-core makes it. */
  gid(port: number, index: number, syscall: string): Uint8Array {
    this.#checkPort(port, syscall);
    const { gids, gidTblLen } = this.profile.port;
    if (!Number.isInteger(index) || index < 0 || index >= gidTblLen) throw systemError('EINVAL', syscall);
    return Uint8Array.from(gids[index] ?? new Uint8Array(16));
  }

  /** The filled GID entry at `index`, or why not (rdma_get_gid_attr). */
  sgid(index: number): Uint8Array | 'EINVAL' | 'ENODATA' {
    const { gids, gidTblLen } = this.profile.port;
    if (index < 0 || index >= gidTblLen) return 'EINVAL';
    return gids[index] ?? 'ENODATA';
  }

  ownsGid(gid: Uint8Array): boolean {
    return this.profile.port.gids.some((g) => sameGid(g, gid));
  }

  get portActive(): boolean {
    return this.#portState === IBV_PORT.ACTIVE;
  }

  /** The link goes down or comes up: every open context hears of it. */
  setPortState(state: 'active' | 'down'): void {
    const next = state === 'active' ? IBV_PORT.ACTIVE : IBV_PORT.DOWN;
    if (next === this.#portState) return;
    this.#portState = next;
    this.#raise({ eventType: next === IBV_PORT.ACTIVE ? IBV_EVENT.PORT_ACTIVE : IBV_EVENT.PORT_ERR, element: 1 });
  }

  #raise(event: IbvAsyncEvent): void {
    for (const file of this.#listeners) file.push(event);
  }

  listen(file: EventFile<IbvAsyncEvent>): void {
    this.#listeners.add(file);
  }

  unlisten(file: EventFile<IbvAsyncEvent>): void {
    this.#listeners.delete(file);
  }

  /** A free MR pool index; rxe_add_to_pool fails with EINVAL when none is left. */
  allocMrIndex(syscall: string): number {
    const index = this.#mrIds.alloc();
    if (index === undefined) throw systemError('EINVAL', syscall);
    return index;
  }

  freeMrIndex(index: number): void {
    this.#mrIds.free(index);
  }

  addMr(mr: IbMr): void {
    this.#mrs.set(keyIndex(mr.key), mr);
  }

  removeMr(mr: IbMr): void {
    const index = keyIndex(mr.key);
    this.#mrs.delete(index);
    this.#mrIds.free(index);
  }

  /** A test's view of the MR with key `key`: its via, and its dma-buf or on-demand counters. */
  mr(key: number): MrState {
    const mr = this.mrByKey(key);
    if (!mr) throw new TypeError(`${this.name} has no MR with key 0x${key.toString(16)}`);
    return mr.state();
  }

  /** The MR whose key is exactly `key`: the index alone could name a newer MR. */
  mrByKey(key: number): IbMr | undefined {
    const mr = this.#mrs.get(keyIndex(key));
    return mr?.key === key ? mr : undefined;
  }

  allocQpn(syscall: string): number {
    const qpn = this.#qpIds.alloc();
    if (qpn === undefined) throw systemError('EINVAL', syscall);
    return qpn;
  }

  addQp(qp: IbQp): void {
    this.#qps.set(qp.qpn, qp);
  }

  removeQp(qp: IbQp): void {
    this.#qps.delete(qp.qpn);
    this.#qpIds.free(qp.qpn);
  }

  qp(qpn: number): IbQp | undefined {
    return this.#qps.get(qpn);
  }

  #checkPort(port: number, syscall: string): void {
    if (port !== 1) throw systemError('EINVAL', syscall);
  }
}

export function sameGid(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // A plain loop: every() made a closure call per byte, on every request's path.
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function reservedIds(range: { min: number; max: number; reserved: number }): CyclicIds {
  const ids = new CyclicIds(range.min, range.max);
  for (let i = 0; i < range.reserved; i++) ids.alloc();
  return ids;
}

/** /dev/infiniband/uverbsN: libibverbs finds a device by its node and opens it as the context's command fd. */
export class UverbsDevice implements Device {
  readonly inode;
  /** Files open on the node, in any process: ib_uverbs_remove_one waits for the last to close. */
  #files = 0;
  #idle: (() => void) | undefined;

  constructor(machine: Machine, readonly rdma: IbDevice, readonly path: string) {
    this.inode = { ino: machine.nextIno(), mntId: MOUNT.devtmpfs };
  }

  open(): UverbsFile {
    this.#files++;
    return new UverbsFile(this);
  }

  /** The last close of one of the node's files. */
  released(): void {
    if (--this.#files > 0) return;
    const idle = this.#idle;
    this.#idle = undefined;
    idle?.();
  }

  /** Settles once no file is open on the node (at once where none is). One caller: the device's removal. */
  idle(): Promise<void> {
    return this.#files === 0 ? Promise.resolve() : new Promise((resolve) => { this.#idle = resolve; });
  }
}

export class UverbsFile implements FileObject {
  readonly inode;
  readonly rdma: IbDevice;

  /** What the last close of the file does to the context opened on it (set by verbs.ts). */
  onRelease: (() => void) | undefined;

  constructor(private readonly node: UverbsDevice) {
    this.inode = node.inode;
    this.rdma = node.rdma;
  }

  dname(): string {
    return this.node.path;
  }

  release(): void {
    this.onRelease?.();
    this.node.released();
  }
}
