import { invalidType, invalidValue, oneOf, optionsArg, toInt, toStringArg } from '../args';
import { EventEmitter } from 'node:events';
import type { Backend, Watch } from '../../seam/backend';
import type { IbvDeviceAttr } from '../../seam/backend-verbs';
import { assertOpen, Resource, teardown } from '../resource';
import { isSystemError } from '../../seam/system-error';
import * as uapi from '../../seam/uapi';
import { CompletionQueue, DEFAULT_SPIN, POLL_BATCH, type CompletionQueueOptions } from './cq';
import { wcWords } from '../../seam/work-requests';
import { regDmabufMr } from '../../seam/mr-words';
import { ProtectionDomain } from './pd';
import { IBV_EVENT, IBV_LINK_LAYER, IBV_PORT, mtuBytes } from '../../seam/verbs-uapi';
import { byValue, Kebab } from '../enum-names';

const PORT_STATES = byValue(IBV_PORT);
const LINK_LAYERS = byValue(IBV_LINK_LAYER);
/** The API's names of enum ibv_event_type. */
const ASYNC_EVENT_NAMES = {
  CQ_ERR: 'cq-error', QP_FATAL: 'qp-fatal', QP_REQ_ERR: 'qp-request-error', QP_ACCESS_ERR: 'qp-access-error',
  COMM_EST: 'comm-established', SQ_DRAINED: 'sq-drained', PATH_MIG: 'path-migrated', PATH_MIG_ERR: 'path-migration-error',
  DEVICE_FATAL: 'device-fatal', PORT_ACTIVE: 'port-active', PORT_ERR: 'port-error', LID_CHANGE: 'lid-change',
  PKEY_CHANGE: 'pkey-change', SM_CHANGE: 'sm-change', SRQ_ERR: 'srq-error', SRQ_LIMIT_REACHED: 'srq-limit-reached',
  QP_LAST_WQE_REACHED: 'qp-last-wqe-reached', CLIENT_REREGISTER: 'client-reregister', GID_CHANGE: 'gid-change',
  WQ_FATAL: 'wq-fatal',
} as const satisfies Record<keyof typeof IBV_EVENT, string>;
const ASYNC_EVENTS = new Map<number, string>(
  (Object.keys(IBV_EVENT) as Array<keyof typeof IBV_EVENT>).map((k) => [IBV_EVENT[k], ASYNC_EVENT_NAMES[k]]),
);

export interface PortInfo {
  port: number;
  state: Kebab<keyof typeof IBV_PORT>;
  /** Active MTU in bytes. */
  mtu: number;
  maxMtu: number;
  linkLayer: Kebab<keyof typeof IBV_LINK_LAYER>;
  lid: number;
  gidTableLength: number;
}

export interface AsyncEvent {
  type: string;
  /** The port number, QP or CQ handle the event concerns. */
  element: number;
}

/**
 * An open RDMA device (ibv_context). Async events (port down, device fatal)
 * are emitted as 'event' while a listener is attached.
 */
export class RdmaDevice extends Resource {
  readonly #events = new EventEmitter();
  /** The async-event watch, while a listener is attached. */
  readonly #watching: { watch?: Watch } = {};
  #dmaBufSupport: boolean | undefined;

  /**
   * @internal the caller opened `ctx` and queried `attr`. A context the
   * connection manager lent (`owned` false) is shared by the whole process
   * and stays open: closing this object closes what was made through it.
   */
  constructor(
    readonly seam: Backend, readonly ctx: number, readonly name: string, readonly attr: IbvDeviceAttr, parent: Resource,
    owned = true,
  ) {
    super(parent);
    if (owned) teardown(this, () => seam.ibvCloseDevice(ctx));
    const watching = this.#watching;
    teardown(this, () => stopWatch(watching));
  }

  port(port = 1): PortInfo {
    assertOpen(this);
    toInt(port, 'port', 1, 255);
    const p = this.seam.ibvQueryPort(this.ctx, port);
    return {
      port,
      state: PORT_STATES.get(p.state) ?? 'nop',
      mtu: mtuBytes(p.activeMtu),
      maxMtu: mtuBytes(p.maxMtu),
      linkLayer: LINK_LAYERS.get(p.linkLayer) ?? 'unspecified',
      lid: p.lid,
      gidTableLength: p.gidTblLen,
    };
  }

  /** The GID at `index` of `port`, in IPv6 notation. */
  gid(port = 1, index = 0): string {
    assertOpen(this);
    toInt(port, 'port', 1, 255);
    toInt(index, 'index', 0, 0x7fffffff);
    return gidString(this.seam.ibvQueryGid(this.ctx, port, index));
  }

  /** Whether the device can register dma-bufs: probed as NCCL and UCX do, with fd -1. */
  get canRegisterDmaBuf(): boolean {
    if (this.#dmaBufSupport === undefined) {
      using pd = this.allocPd();
      try {
        regDmabufMr(this.seam, pd.handle, 0n, 4096n, 0n, -1, 1);
        this.#dmaBufSupport = true;
      } catch (e) {
        if (!isSystemError(e)) throw e;
        this.#dmaBufSupport = e.code !== 'EOPNOTSUPP' && e.code !== 'EPROTONOSUPPORT';
      }
    }
    return this.#dmaBufSupport;
  }

  /** On-demand paging (ODP): MRs whose pages fault in on access. */
  get onDemandPaging(): boolean {
    return this.attr.odpGeneralCaps !== 0n;
  }

  allocPd(): ProtectionDomain {
    assertOpen(this);
    return new ProtectionDomain(this, this.seam.ibvAllocPd(this.ctx));
  }

  /** A completion queue of at least `size` entries, with its own event channel. */
  createCq(size = 256, options?: CompletionQueueOptions): CompletionQueue {
    assertOpen(this);
    toInt(size, 'size', 1, 0x7fffffff);
    const { spin = DEFAULT_SPIN } = optionsArg(options);
    toInt(spin, 'options.spin', 0, 1_000_000);
    const channel = this.seam.ibvCreateCompChannel(this.ctx);
    const out = wcWords(POLL_BATCH);
    let cq: number;
    try {
      cq = this.seam.ibvCreateCq(this.ctx, size, channel.handle, out);
    } catch (e) {
      this.seam.ibvDestroyCompChannel(channel.handle);
      throw e;
    }
    return new CompletionQueue(this, cq, channel, out, spin);
  }

  on(event: 'event', listener: (e: AsyncEvent) => void): this {
    assertOpen(this);
    oneOf(event, ['event'], 'event');
    if (typeof listener !== 'function') throw invalidType('listener', 'of type function', listener);
    this.#events.on(event, listener);
    this.#watching.watch ??= this.seam.watch(this.seam.ibvAsyncFd(this.ctx), uapi.POLLIN, () => this.#drainEvents());
    return this;
  }

  off(event: 'event', listener: (e: AsyncEvent) => void): this {
    oneOf(event, ['event'], 'event');
    if (typeof listener !== 'function') throw invalidType('listener', 'of type function', listener);
    this.#events.off(event, listener);
    if (this.#events.listenerCount('event') === 0) stopWatch(this.#watching);
    return this;
  }

  #drainEvents(): void {
    for (let e = this.seam.ibvGetAsyncEvent(this.ctx); e; e = this.seam.ibvGetAsyncEvent(this.ctx)) {
      this.#events.emit('event', { type: ASYNC_EVENTS.get(e.eventType) ?? `event-${e.eventType}`, element: e.element });
    }
  }

}

function stopWatch(watching: { watch?: Watch }): void {
  watching.watch?.stop();
  watching.watch = undefined;
}

export function gidString(gid: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((gid[i]! << 8) | gid[i + 1]!).toString(16));
  return words.join(':');
}

export function gidBytes(gid: string, name = 'gid'): Uint8Array {
  const words = toStringArg(gid, name).split(':');
  if (words.length !== 8) throw invalidValue(name, gid, "must be 8 groups of hex digits separated by ':'");
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    const v = parseInt(w, 16);
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw invalidValue(name, gid, `has a bad group '${w}'`);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}
