import { instanceArg, invalidType, oneOf, optionsArg, outOfRange, toSize } from '../args';
import { DmaBuf } from '../dmabuf';
import { Mapping } from '../mapping';
import { assertOpen, closeWith, Resource, teardown } from '../resource';
import { isSystemError, systemError } from '../../seam/system-error';
import type { IbvMr } from '../../seam/backend-verbs';
import { regDmabufMr, regMr } from '../../seam/mr-words';
import { AccessFlag, accessBits } from './access-flags';
import type { CompletionQueue } from './cq';
import type { RdmaDevice } from './device';
import { KeepAlive, MemoryRegion, RegisteredVia, Registrar } from './mr';
import type { PinBudget } from './pin-budget';
import { createQp, QueuePair, QueuePairOptions } from './qp';

export interface RegisterDmaBufOptions {
  offset?: number | bigint;
  length?: number | bigint;
  /** The address the device will know the memory by; default: the offset. */
  iova?: number | bigint;
  access?: AccessFlag[];
  /**
   * 'memfd-pages': where the device cannot register dma-bufs (rxe) and the
   * buffer is a single-range udmabuf, register its memfd's pages instead.
   * Never taken unless asked for; the MR's `via` says which way it went.
   */
  fallback?: 'memfd-pages';
}

/** Registering again with a retired key, at most this often, before giving up. */
const FRESH_KEY_TRIES = 16;

/**
 * Registers through `make` in `pd`, never with a key `pd` retired: a driver
 * may hand a freed key out again (rxe does once its MR indexes wrap round
 * and the random low byte repeats), so such an MR is deregistered at once
 * and the registration made again.
 */
export let freshMr: (pd: ProtectionDomain, make: Registrar, access: number) => IbvMr;

/** A key a peer may still hold: never again in `pd`. */
export let retire: (pd: ProtectionDomain, key: number) => void;

/** Caps what `pd` registers with a budget shared with other PDs (a listener's connections'). */
export let setBudget: (pd: ProtectionDomain, budget: PinBudget | undefined) => void;

/**
 * A protection domain: MRs and QPs within it may be used together. A peer's
 * rkey reaches only MRs of the PD of the QP its request arrives on.
 */
export class ProtectionDomain extends Resource {
  /**
   * The rkeys of this PD's MRs that allowed remote access and are closed or
   * revoked: a peer may still hold them, so no later MR of this PD takes one.
   * (Another PD's MR with such a key is out of reach: the PD must match.)
   */
  readonly #retired = new Set<number>();
  /** A cap shared with other PDs (a listener's connections'), or none. */
  #budget: PinBudget | undefined;

  static {
    freshMr = (pd, make, access) => pd.#freshMr(make, access);
    retire = (pd, key) => {
      pd.#retired.add(key);
    };
    setBudget = (pd, budget) => {
      pd.#budget = budget;
    };
  }

  /** Made by RdmaDevice.allocPd(). */
  constructor(readonly device: RdmaDevice, readonly handle: number) {
    super(device);
    const { seam } = device;
    teardown(this, () => seam.ibvDeallocPd(handle));
  }

  #freshMr(make: Registrar, access: number): IbvMr {
    const { seam } = this.device;
    for (let tries = 1; ; tries++) {
      const mr = make(access);
      if (!this.#retired.has(mr.rkey) && !this.#retired.has(mr.lkey)) return mr;
      seam.ibvDeregMr(mr.handle);
      if (tries === FRESH_KEY_TRIES) {
        throw systemError('EAGAIN', 'ibv_reg_mr', `ibv_reg_mr failed with EAGAIN: ${this.device.name} gave a key a peer may still hold (of a closed or revoked MR of this PD) ${tries} times running; try again, or register in a new PD`);
      }
    }
  }

  /**
   * Registers host memory that JS cannot free while the device uses it: a
   * SharedArrayBuffer (or a typed array or Buffer over one), or a Mapping
   * (which cannot be unmapped while registered). Default access: local write
   * only.
   */
  register(memory: SharedArrayBuffer | ArrayBufferView | Mapping, opts?: { access?: AccessFlag[] }): MemoryRegion {
    assertOpen(this);
    const view = bytesOf(memory);
    const access = accessBits(optionsArg(opts).access);
    const mapping = memory instanceof Mapping ? memory : undefined;
    const { seam } = this.device;
    const mr = this.#register((bits) => regMr(seam, this.handle, view, bits), access, BigInt(view.byteLength), 'host-memory', { view, mapping });
    // The device must stop using a mapping's memory before it is unmapped.
    if (mapping) closeWith(mapping, mr);
    return mr;
  }

  /** Registers `bytes` through `make` under this PD's budget and key quarantine. */
  #register(make: Registrar, access: number, bytes: bigint, via: RegisteredVia, keepAlive: KeepAlive, syscall = 'ibv_reg_mr'): MemoryRegion {
    const budget = this.#budget;
    budget?.charge(bytes, syscall);
    try {
      return new MemoryRegion(this, this.#freshMr(make, access), access, via, keepAlive, make, budget && (() => budget.refund(bytes)));
    } catch (e) {
      budget?.refund(bytes);
      throw e;
    }
  }

  /** Registers a dma-buf (ibv_reg_dmabuf_mr), or its memfd pages where asked. */
  registerDmaBuf(buf: DmaBuf, opts?: RegisterDmaBufOptions): MemoryRegion {
    assertOpen(this);
    assertOpen(instanceArg(buf, DmaBuf, 'buf'));
    const o = optionsArg(opts);
    const offset = toSize(o.offset ?? 0, 'options.offset');
    if (offset > buf.size) throw outOfRange('options.offset', `<= ${buf.size}, the buffer's size`, o.offset);
    const length = toSize(o.length ?? buf.size - offset, 'options.length');
    const iova = toSize(o.iova ?? offset, 'options.iova');
    const access = accessBits(o.access);
    if (o.fallback !== undefined) oneOf(o.fallback, ['memfd-pages'], 'options.fallback');
    const { seam } = this.device;
    const make: Registrar = (bits) => {
      assertOpen(buf);
      return regDmabufMr(seam, this.handle, offset, length, iova, buf.fd, bits);
    };
    try {
      return this.#register(make, access, length, 'dma-buf', {}, 'ibv_reg_dmabuf_mr');
    } catch (e) {
      if (!isSystemError(e) || e.code !== 'EOPNOTSUPP') throw e;
      if (o.fallback !== 'memfd-pages') {
        e.message = `${e.syscall} failed with EOPNOTSUPP: ${this.device.name} cannot register dma-bufs; for a udmabuf, pass { fallback: 'memfd-pages' } to register its memfd pages instead (the same memory)`;
        throw e;
      }
    }
    return this.#registerMemfdPages(buf, offset, length, access);
  }

  #registerMemfdPages(buf: DmaBuf, offset: bigint, length: bigint, access: number): MemoryRegion {
    const ranges = buf.memfdRanges;
    if (!ranges || ranges.length !== 1) {
      throw systemError('EOPNOTSUPP', 'ibv_reg_dmabuf_mr', `${this.device.name} cannot register dma-bufs, and the memfd-pages fallback needs a udmabuf made from one memfd range`);
    }
    const range = ranges[0]!;
    if (offset + length > range.size) throw systemError('EINVAL', 'ibv_reg_mr', 'offset + length lies past the end of the dma-buf');
    const mapping = range.memfd.map('rw', { offset: range.offset + offset, length });
    const { seam } = this.device;
    try {
      const mr = this.#register((bits) => regMr(seam, this.handle, mapping.view, bits), access, length, 'memfd-pages', { view: mapping.view, release: () => mapping.close() });
      closeWith(mapping, mr);
      return mr;
    } catch (e) {
      mapping.close();
      throw e;
    }
  }

  createQp(sendCq: CompletionQueue, recvCq: CompletionQueue = sendCq, options?: QueuePairOptions): QueuePair {
    assertOpen(this);
    return createQp(this, sendCq, recvCq, optionsArg(options));
  }
}

function bytesOf(memory: SharedArrayBuffer | ArrayBufferView | Mapping): Uint8Array {
  // An ArrayBuffer can be transferred (structuredClone, postMessage, transfer())
  // and collected while the device still writes into it: only memory JS cannot
  // free is registered.
  const bytes = memory instanceof Mapping ? memory.view
    : memory instanceof SharedArrayBuffer ? new Uint8Array(memory)
      : ArrayBuffer.isView(memory) && memory.buffer instanceof SharedArrayBuffer
        ? (memory instanceof Uint8Array ? memory : new Uint8Array(memory.buffer, memory.byteOffset, memory.byteLength))
        : undefined;
  if (!bytes) throw invalidType('memory', 'memory JS cannot free under the device: a SharedArrayBuffer, a typed array or Buffer over one, or a Mapping (copy other bytes into one)', memory);
  // Empty memory cannot be registered: say so, rather than the kernel's EINVAL.
  if (bytes.byteLength === 0) throw outOfRange('memory.byteLength', '>= 1 (empty memory cannot be registered)', 0);
  return bytes;
}
