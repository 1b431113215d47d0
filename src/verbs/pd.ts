import { toSize } from '../args';
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
    this.guard(() => seam.ibvDeallocPd(handle));
  }

  /**
   * Registers host memory (an ArrayBuffer, a typed array or Buffer, or a
   * Mapping's view). It is kept alive while registered. Default access:
   * local write only.
   */
  register(memory: ArrayBuffer | ArrayBufferView | Mapping, options: { access?: AccessFlag[] } = {}): MemoryRegion {
    this.assertOpen();
    const view = bytesOf(memory);
    const access = accessBits(options.access);
    const mapping = memory instanceof Mapping ? memory : undefined;
    const mr = new MemoryRegion(this, this.device.seam.ibvRegMr(this.handle, view, access), access, 'host-memory', { view, mapping });
    // The device must stop using a mapping's memory before it is unmapped.
    mapping?.closeWith(mr);
    return mr;
  }

  /** Registers a dma-buf (ibv_reg_dmabuf_mr), or its memfd pages where asked. */
  registerDmaBuf(buf: DmaBuf, options: RegisterDmaBufOptions = {}): MemoryRegion {
    this.assertOpen();
    if (!(buf instanceof DmaBuf)) throw new TypeError('registerDmaBuf needs a DmaBuf');
    buf.assertOpen();
    const offset = toSize(options.offset ?? 0, 'offset');
    const length = toSize(options.length ?? buf.size - offset, 'length');
    const iova = toSize(options.iova ?? offset, 'iova');
    const access = accessBits(options.access);
    const { seam } = this.device;
    try {
      const mr = seam.ibvRegDmabufMr(this.handle, offset, length, iova, buf.fd, access);
      return new MemoryRegion(this, mr, access, 'dma-buf', {});
    } catch (e) {
      if (!isSystemError(e) || e.code !== 'EOPNOTSUPP') throw e;
      if (options.fallback !== 'memfd-pages') {
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

  createQp(sendCq: CompletionQueue, recvCq: CompletionQueue = sendCq, options: QueuePairOptions = {}): QueuePair {
    this.assertOpen();
    return QueuePair.create(this, sendCq, recvCq, options);
  }

  protected release(): void {
    this.device.seam.ibvDeallocPd(this.handle);
  }
}

function bytesOf(memory: ArrayBuffer | ArrayBufferView | Mapping): Uint8Array {
  // A Uint8Array (a Buffer too) is passed as it is; an empty one, which may be
  // detached, goes the general way, whose constructor refuses a detached buffer.
  if (memory instanceof Uint8Array && memory.byteLength > 0) return memory;
  if (memory instanceof Mapping) return memory.view;
  if (memory instanceof ArrayBuffer) return new Uint8Array(memory);
  if (ArrayBuffer.isView(memory)) return new Uint8Array(memory.buffer, memory.byteOffset, memory.byteLength);
  throw new TypeError('register needs an ArrayBuffer, a typed array or Buffer, or a Mapping');
}
