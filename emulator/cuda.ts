// A CUDA-like driver: GPUs with device memory that exports as dma-bufs the
// way NVIDIA's open kernel module makes them (nv-dmabuf.c): exp_name
// 'nv_dmabuf', O_RDWR, no CPU mapping (mmap answers 524, ENOTSUPP). Errors
// carry the CUDA error's name as native's do.
import { ErrnoCode } from '../seam/errno';
import { SystemError, systemError, systemErrorWhy } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import { DmaBufObject, Exporter } from './dmabuf';
import type { Machine } from './machine';

/** A GPU of the emulated machine. */
export interface EmulatedGpu {
  name: string;
  /** Bytes of device memory. */
  memory: number;
  /** CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED: whether its memory exports as dma-bufs. */
  dmaBuf: boolean;
}

export const DEFAULT_GPU: EmulatedGpu = { name: 'NVIDIA H100 80GB HBM3 (emulated)', memory: 80 * 2 ** 30, dmaBuf: true };

const CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED = 124;
const PAGE = BigInt(uapi.PAGE_SIZE);
const TWO_MIB = 2n ** 21n;
/** Where device addresses start (inferred from a real driver's). */
const VA_BASE = 0x7f0000000000n;

function cudaError(code: ErrnoCode, syscall: string, name: string): SystemError {
  return Object.assign(systemError(code, syscall, `${syscall} failed: ${name}`), { cudaError: name });
}

/** Device memory: held by its handle and by each dma-buf exported from it. */
class Allocation {
  #refs = 1;
  /** Its bytes, made when a device (an RDMA NIC) first reaches them. */
  #bytes: ArrayBuffer | undefined;

  constructor(readonly gpu: Gpu, readonly dptr: bigint, readonly size: bigint) {}

  get(): this {
    this.#refs++;
    return this;
  }

  put(): void {
    if (--this.#refs === 0) this.gpu.used -= this.size;
  }

  bytes(offset: bigint, size: bigint): Uint8Array {
    this.#bytes ??= new ArrayBuffer(Number(this.size));
    return new Uint8Array(this.#bytes, Number(offset), Number(size));
  }
}

class Gpu {
  used = 0n;
  // Large allocations start on the GPU's 2 MiB pages, small ones on 512 bytes (inferred).
  #next = VA_BASE;

  constructor(readonly spec: EmulatedGpu) {}

  allocate(size: bigint): Allocation {
    const align = size >= TWO_MIB ? TWO_MIB : 512n;
    const dptr = (this.#next + align - 1n) & ~(align - 1n);
    this.#next = dptr + size;
    this.used += size;
    return new Allocation(this, dptr, size);
  }
}

class NvDmaBuf implements Exporter {
  readonly expName = 'nv_dmabuf';

  constructor(private readonly memory: Allocation, private readonly offset: bigint, private readonly size: bigint) {}

  mmap(): never {
    throw systemError('ENOTSUPP', 'mmap');
  }

  pages(): Uint8Array[] {
    return [this.memory.bytes(this.offset, this.size)];
  }

  /** GPU memory that never moves: importers reach it peer-to-peer. */
  placement(): 'device' {
    return 'device';
  }

  release(): void {
    this.memory.put();
  }
}

/** The machine's GPUs; undefined: libcuda.so.1 is not installed. */
const drivers = new WeakMap<Machine, Gpu[]>();

export function installCuda(machine: Machine, gpus: EmulatedGpu[]): void {
  drivers.set(machine, gpus.map((spec) => new Gpu({ ...spec })));
}

/** One process's view of the driver: its allocations, by handle. */
export class CudaClient {
  readonly #allocations = new Map<number, Allocation>();
  #nextHandle = 1;

  constructor(private readonly machine: Machine) {}

  deviceGetCount(): number {
    return this.#gpus(true).length;
  }

  deviceGetName(ordinal: number): string {
    return this.#gpu(ordinal, 'cuDeviceGetName').spec.name;
  }

  deviceGetAttribute(ordinal: number, attribute: number): number {
    const gpu = this.#gpu(ordinal, 'cuDeviceGetAttribute');
    // Only the attribute dma-buf export needs is modelled.
    if (attribute !== CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED) throw cudaError('EINVAL', 'cuDeviceGetAttribute', 'CUDA_ERROR_INVALID_VALUE');
    return gpu.spec.dmaBuf ? 1 : 0;
  }

  memGetInfo(ordinal: number): { free: bigint; total: bigint } {
    const gpu = this.#gpu(ordinal, 'cuMemGetInfo');
    const total = BigInt(gpu.spec.memory);
    return { free: total - gpu.used, total };
  }

  memAlloc(ordinal: number, size: bigint): { handle: number; dptr: bigint } {
    const gpu = this.#gpu(ordinal, 'cuMemAlloc');
    if (size === 0n) throw cudaError('EINVAL', 'cuMemAlloc', 'CUDA_ERROR_INVALID_VALUE');
    if (size > BigInt(gpu.spec.memory) - gpu.used) throw cudaError('ENOMEM', 'cuMemAlloc', 'CUDA_ERROR_OUT_OF_MEMORY');
    const handle = this.#nextHandle++;
    const memory = gpu.allocate(size);
    this.#allocations.set(handle, memory);
    return { handle, dptr: memory.dptr };
  }

  /** cuMemGetHandleForAddressRange: a dma-buf the caller installs close-on-exec. */
  exportDmaBuf(handle: number, offset: bigint, size: bigint): DmaBufObject {
    const syscall = 'cuMemGetHandleForAddressRange';
    this.#gpus(false);
    const memory = this.#allocation(handle, syscall);
    if (offset > memory.size || size > memory.size - offset) {
      throw systemErrorWhy('EINVAL', syscall, 'the range passes the end of the allocation');
    }
    if (!memory.gpu.spec.dmaBuf) throw cudaError('EOPNOTSUPP', syscall, 'CUDA_ERROR_NOT_SUPPORTED');
    if (size === 0n || (memory.dptr + offset) % PAGE !== 0n || size % PAGE !== 0n) {
      throw cudaError('EINVAL', syscall, 'CUDA_ERROR_INVALID_VALUE');
    }
    return new DmaBufObject(this.machine, { exporter: new NvDmaBuf(memory.get(), offset, size), size, flags: uapi.O_RDWR });
  }

  memFree(handle: number): void {
    this.#gpus(false);
    this.#allocation(handle, 'cuMemFree').put();
    this.#allocations.delete(handle);
  }

  /** The GPUs, or what native throws where libcuda is missing or finds no GPU. */
  #gpus(allowNone: boolean): Gpu[] {
    const gpus = drivers.get(this.machine);
    if (!gpus) throw systemError('ENOSYS', 'dlopen', 'libcuda.so.1 not found: install the NVIDIA driver');
    if (gpus.length === 0 && !allowNone) throw cudaError('ENODEV', 'cuInit', 'CUDA_ERROR_NO_DEVICE');
    return gpus;
  }

  #gpu(ordinal: number, syscall: string): Gpu {
    if (!Number.isInteger(ordinal)) throw new TypeError('ordinal must be an integer in int32 range');
    const gpu = this.#gpus(false)[ordinal];
    if (!gpu) throw cudaError('ENODEV', syscall, 'CUDA_ERROR_INVALID_DEVICE');
    return gpu;
  }

  #allocation(handle: number, syscall: string): Allocation {
    const memory = this.#allocations.get(handle);
    if (!memory) throw systemErrorWhy('EBADF', syscall, 'no such allocation');
    return memory;
  }
}
