import { instanceArg, invalidType, oneOf, optionsArg, outOfRange, toSize } from '../args';
import { DmaBuf } from '../dmabuf';
import { Mapping } from '../mapping';
import { Resource } from '../resource';
import { isSystemError, systemError } from '../../seam/system-error';
import { AccessFlag, accessBits } from './access-flags';
import type { CompletionQueue } from './cq';
import type { RdmaDevice } from './device';
import { MemoryRegion } from './mr';
import { QueuePair, QueuePairOptions } from './qp';

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

/** A protection domain: MRs and QPs within it may be used together. */
export class ProtectionDomain extends Resource {
  /** @internal */
  constructor(readonly device: RdmaDevice, readonly handle: number) {
    super(device);
    const { seam } = device;
    this.teardown(() => seam.ibvDeallocPd(handle));
  }

  /**
   * Registers host memory that JS cannot free while the device uses it: a
   * SharedArrayBuffer (or a typed array or Buffer over one), or a Mapping
   * (which cannot be unmapped while registered). Default access: local write
   * only.
   */
  register(memory: SharedArrayBuffer | ArrayBufferView | Mapping, opts?: { access?: AccessFlag[] }): MemoryRegion {
    this.assertOpen();
    const view = bytesOf(memory);
    const access = accessBits(optionsArg(opts).access);
    const mapping = memory instanceof Mapping ? memory : undefined;
    const mr = new MemoryRegion(this, this.device.seam.ibvRegMr(this.handle, view, access), access, 'host-memory', { view, mapping });
    // The device must stop using a mapping's memory before it is unmapped.
    mapping?.closeWith(mr);
    return mr;
  }

  /** Registers a dma-buf (ibv_reg_dmabuf_mr), or its memfd pages where asked. */
  registerDmaBuf(buf: DmaBuf, opts?: RegisterDmaBufOptions): MemoryRegion {
    this.assertOpen();
    instanceArg(buf, DmaBuf, 'buf').assertOpen();
    const o = optionsArg(opts);
    const offset = toSize(o.offset ?? 0, 'options.offset');
    if (offset > buf.size) throw outOfRange('options.offset', `<= ${buf.size}, the buffer's size`, o.offset);
    const length = toSize(o.length ?? buf.size - offset, 'options.length');
    const iova = toSize(o.iova ?? offset, 'options.iova');
    const access = accessBits(o.access);
    if (o.fallback !== undefined) oneOf(o.fallback, ['memfd-pages'], 'options.fallback');
    const { seam } = this.device;
    try {
      const mr = seam.ibvRegDmabufMr(this.handle, offset, length, iova, buf.fd, access);
      return new MemoryRegion(this, mr, access, 'dma-buf', {});
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
    try {
      const mr = new MemoryRegion(this, this.device.seam.ibvRegMr(this.handle, mapping.view, access), access, 'memfd-pages', { view: mapping.view, release: () => mapping.close() });
      mapping.closeWith(mr);
      return mr;
    } catch (e) {
      mapping.close();
      throw e;
    }
  }

  createQp(sendCq: CompletionQueue, recvCq: CompletionQueue = sendCq, options?: QueuePairOptions): QueuePair {
    this.assertOpen();
    return QueuePair.create(this, sendCq, recvCq, optionsArg(options));
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
