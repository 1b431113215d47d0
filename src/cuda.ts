import { toInt } from './args';
import type { Backend } from '../seam/backend';
import { DmaBuf } from './dmabuf';
import { type Resource, teardown } from './resource';
import { systemErrorWhy } from '../seam/system-error';
import { advise } from './advice';
import * as uapi from '../seam/uapi';

/** cuda.h's CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED. */
export const CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED = 124;

export interface CudaDevice {
  ordinal: number;
  name: string;
  /** Whether the GPU can export its memory as dma-bufs. */
  dmaBuf: boolean;
}

export interface CudaAllocOptions {
  /** The GPU's ordinal, as CUDA numbers them. Default 0. */
  device?: number;
}

/**
 * A dma-buf of GPU memory (exporter 'nv_dmabuf'). The CPU cannot map it;
 * closing it closes the fd, then frees the GPU memory.
 */
export class CudaDmaBuf extends DmaBuf {
  /** @internal allocCuda makes these */
  constructor(
    seam: Backend,
    fd: number,
    size: bigint,
    parent: Resource,
    /** The GPU's ordinal. */
    readonly device: number,
    /** The device address of the buffer's first byte. */
    readonly dptr: bigint,
    handle: number,
  ) {
    super(seam, fd, size, parent);
    // The fd and the memory may go in either order: the driver's dma-buf
    // holds its own reference to the memory.
    teardown(this, () => seam.cuMemFree(handle));
  }
}

export function cudaDevices(seam: Backend): CudaDevice[] {
  const count = seam.cuDeviceGetCount();
  return Array.from({ length: count }, (_, ordinal) => ({
    ordinal,
    name: seam.cuDeviceGetName(ordinal),
    dmaBuf: seam.cuDeviceGetAttribute(ordinal, CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED) !== 0,
  }));
}

/**
 * GPU memory of `size` bytes (rounded up to whole host pages) exported as a
 * dma-buf. Fails with ENODEV where the GPU does not exist and EOPNOTSUPP
 * where it cannot export dma-bufs, saying which.
 */
export function allocCuda(seam: Backend, parent: Resource, size: bigint, options: CudaAllocOptions): CudaDmaBuf {
  const device = options.device === undefined ? 0 : toInt(options.device, 'options.device', 0, 0x7fffffff);
  const count = seam.cuDeviceGetCount();
  if (device >= count) {
    const have = count === 0 ? 'the NVIDIA driver finds no GPU' : `this machine has ${count}: ${cudaDevices(seam).map((d) => `${d.ordinal} ${d.name}`).join(', ')}`;
    throw advise(systemErrorWhy('ENODEV', 'cuDeviceGet', have), [device]);
  }
  if (seam.cuDeviceGetAttribute(device, CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED) === 0) {
    const why = `GPU ${device} (${seam.cuDeviceGetName(device)}) cannot export dma-bufs: CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED is 0`;
    throw advise(systemErrorWhy('EOPNOTSUPP', 'cuMemGetHandleForAddressRange', why), []);
  }
  const page = BigInt(uapi.PAGE_SIZE);
  const length = ((size + page - 1n) / page) * page;
  // The exported range must start on a host page; small allocations may not.
  let alloc = seam.cuMemAlloc(device, length);
  if (alloc.dptr % page !== 0n) {
    seam.cuMemFree(alloc.handle);
    alloc = seam.cuMemAlloc(device, length + page);
  }
  const offset = (page - (alloc.dptr % page)) % page;
  const { handle } = alloc;
  let fd = -1;
  try {
    fd = seam.cuMemExportDmaBuf(handle, offset, length);
    return new CudaDmaBuf(seam, fd, seam.lseek(fd, 0n, uapi.SEEK_END), parent, device, alloc.dptr + offset, handle);
  } catch (e) {
    // The first error is the one to report; cleaning up after it is best-effort.
    if (fd >= 0) ignore(() => seam.close(fd));
    ignore(() => seam.cuMemFree(handle));
    throw e;
  }
}

function ignore(fn: () => void): void {
  try {
    fn();
  } catch {
    // see the caller
  }
}
