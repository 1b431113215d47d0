import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it as vitestIt } from 'vitest';
import { createEmulator, EmulatedGpu } from '../../emulator';
import type { DmaBridge } from '../../src/dmabridge';
import { BackendCase, bridgeOn, describeEachBackend, inKernelVm, openOn } from '../support/backends';

// On the emulator the GPU is its CUDA-like H100. Natively these run where the
// NVIDIA driver is (/dev/nvidiactl); scripts/device/cuda-check.js runs the same
// checks on a real H100 without vitest. The kernel VM has no GPU by design, so
// there they are left out rather than skipped, and the native test of a
// machine without CUDA runs instead.
const NVIDIA = '/dev/nvidiactl';
const gpu = existsSync(NVIDIA);
const MiB = 1n << 20n;

function itWithGpu(b: BackendCase): typeof vitestIt {
  if (b.name === 'emulator' || gpu) return vitestIt;
  if (inKernelVm) return (() => undefined) as unknown as typeof vitestIt;
  return ((name: string, fn?: () => void) => vitestIt.skip(`${name} (skipped: no NVIDIA GPU, ${NVIDIA} absent)`, fn)) as typeof vitestIt;
}

describeEachBackend('CUDA dma-bufs', (b) => {
  const it = itWithGpu(b);
  let dmb: DmaBridge;
  beforeEach(() => {
    dmb = openOn(b);
  });
  afterEach(() => dmb.close());

  it('exports GPU memory as an nv_dmabuf dma-buf of whole pages', () => {
    expect(dmb.cudaDevices()[0]).toMatchObject({ ordinal: 0, dmaBuf: true });
    using buf = dmb.allocCuda(4n * MiB);
    expect(buf.size).toBe(4n * MiB);
    expect(buf.info()).toMatchObject({ size: 4n * MiB, exporter: 'nv_dmabuf', writable: true });
    expect(buf.device).toBe(0);
    expect(buf.dptr % 4096n).toBe(0n);
    using small = dmb.allocCuda(5000);
    expect(small.size).toBe(8192n);
    expect(small.dptr % 4096n).toBe(0n);
  });

  it('refuses CPU mappings with ENOTSUPP (error 524), saying why', () => {
    using buf = dmb.allocCuda(MiB);
    expect(() => buf.map('rw')).toThrow(expect.objectContaining({ code: 'ENOTSUPP', errno: -524, syscall: 'mmap', message: expect.stringMatching(/does not allow CPU mappings/) }));
  });

  it('names, polls and fences like any other dma-buf', () => {
    using buf = dmb.allocCuda(MiB);
    buf.setName('weights');
    expect(buf.name).toBe('weights');
    expect(buf.idle('rw')).toBe(true);
    using sync = buf.exportSyncFile('rw');
    expect(sync.info().status).toBe('signaled');
  });

  it('closes the fd, then frees the GPU memory; closing the system frees the rest', () => {
    const fds = dmb.seam.openFds();
    const free = dmb.seam.cuMemGetInfo(0).free;
    for (let i = 0; i < 50; i++) dmb.allocCuda(4n * MiB).close();
    expect(dmb.seam.openFds()).toEqual(fds);
    expect(dmb.seam.cuMemGetInfo(0).free).toBe(free);
    const left = dmb.allocCuda(4n * MiB);
    expect(dmb.seam.cuMemGetInfo(0).free).toBeLessThanOrEqual(free - 4n * MiB);
    const seam = dmb.seam;
    dmb.close();
    expect(left.closed).toBe(true);
    expect(seam.cuMemGetInfo(0).free).toBe(free);
  });

  it('says which GPU is missing, and keeps the CUDA error name', () => {
    expect(() => dmb.allocCuda(MiB, { device: 99 })).toThrow(expect.objectContaining({ code: 'ENODEV', syscall: 'cuDeviceGet', message: expect.stringMatching(/^cuDeviceGet failed with ENODEV \(this machine has \d+: .*\): there is no GPU 99/) }));
    expect(() => dmb.allocCuda(0)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'cuMemAlloc', cudaError: 'CUDA_ERROR_INVALID_VALUE' }));
    expect(() => dmb.allocCuda(1n << 50n)).toThrow(expect.objectContaining({ code: 'ENOMEM', syscall: 'cuMemAlloc', message: expect.stringMatching(/CUDA_ERROR_OUT_OF_MEMORY: GPU 0 has less than/) }));
    expect(() => dmb.allocCuda(MiB, { device: 1.5 })).toThrow(TypeError);
    expect(() => dmb.seam.cuMemFree(12345)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'cuMemFree' }));
  });

  if (b.name === 'native' && !gpu) {
    vitestIt('says CUDA is absent where there is no NVIDIA driver', () => {
      expect(() => dmb.allocCuda(MiB)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(ENOSYS|ENODEV)$/), message: expect.stringMatching(/libcuda\.so\.1 not found: install the NVIDIA driver|there is no GPU 0|CUDA_ERROR_NO_DEVICE/) }));
    });
  }
});

describe('CUDA where it is missing or cannot export [emulator]', () => {
  function machine(cuda: EmulatedGpu[] | false): DmaBridge {
    return bridgeOn(createEmulator({ cuda }), 'test');
  }

  vitestIt('says libcuda.so.1 is missing, from dlopen', () => {
    using dmb = machine(false);
    expect(() => dmb.cudaDevices()).toThrow(expect.objectContaining({ code: 'ENOSYS', syscall: 'dlopen', message: 'dlopen failed with ENOSYS: libcuda.so.1 not found: install the NVIDIA driver' }));
  });

  vitestIt('says the driver finds no GPU', () => {
    using dmb = machine([]);
    expect(dmb.cudaDevices()).toEqual([]);
    expect(() => dmb.allocCuda(MiB)).toThrow(expect.objectContaining({ code: 'ENODEV', message: expect.stringMatching(/\(the NVIDIA driver finds no GPU\): there is no GPU 0/) }));
  });

  vitestIt('names the GPU that cannot export dma-bufs, and allocates nothing on it', () => {
    using dmb = machine([{ name: 'NVIDIA GeForce RTX 3090', memory: 2 ** 34, dmaBuf: false }]);
    const free = dmb.seam.cuMemGetInfo(0).free;
    expect(() => dmb.allocCuda(MiB)).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'cuMemGetHandleForAddressRange', message: expect.stringMatching(/GPU 0 \(NVIDIA GeForce RTX 3090\) cannot export dma-bufs.*open kernel modules/) }));
    expect(dmb.seam.cuMemGetInfo(0).free).toBe(free);
  });

  vitestIt('realigns a small allocation that does not start on a page, and frees both tries', () => {
    using dmb = machine([{ name: 'GPU', memory: 2 ** 30, dmaBuf: true }]);
    const free = dmb.seam.cuMemGetInfo(0).free;
    const odd = dmb.seam.cuMemAlloc(0, 512n);
    {
      using buf = dmb.allocCuda(4096);
      expect(buf.dptr % 4096n).toBe(0n);
      expect(buf.size).toBe(4096n);
    }
    dmb.seam.cuMemFree(odd.handle);
    expect(dmb.seam.cuMemGetInfo(0).free).toBe(free);
  });

  vitestIt('keeps device memory while a dma-buf of it is open, as the driver does', () => {
    using dmb = machine([{ name: 'GPU', memory: 2 ** 30, dmaBuf: true }]);
    const { seam } = dmb;
    const free = seam.cuMemGetInfo(0).free;
    const { handle } = seam.cuMemAlloc(0, MiB);
    const fd = seam.cuMemExportDmaBuf(handle, 0n, MiB);
    seam.cuMemFree(handle);
    expect(seam.cuMemGetInfo(0).free).toBe(free - MiB);
    seam.close(fd);
    expect(seam.cuMemGetInfo(0).free).toBe(free);
    expect(() => seam.cuMemExportDmaBuf(handle, 0n, MiB)).toThrow(expect.objectContaining({ code: 'EBADF', message: expect.stringMatching(/freed already/) }));
  });
});
