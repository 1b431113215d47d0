import { instanceArg, oneOf, optionsArg, toInt } from './args';
import { Access, accessArg } from './access';
import type { Backend, DrmVersion } from '../seam/backend';
import { adoptDmaBuf, DmaBuf } from './dmabuf';
import { FdResource } from './fd-resource';
import { assertOpen, parentOf, Resource, teardown } from './resource';
import * as uapi from '../seam/uapi';

export interface DumbBufferOptions {
  width: number;
  height: number;
  /** Bits per pixel. */
  bpp: number;
}

/** An open DRM node (/dev/dri/card* or renderD*). */
export class DrmDevice extends FdResource {
  constructor(seam: Backend, fd: number, readonly path: string, readonly version: DrmVersion, parent: Resource) {
    super(seam, fd, parent);
  }

  /** The driver's name: 'vgem', 'amdgpu', 'i915'… */
  get driver(): string {
    return this.version.name;
  }

  /** A dumb buffer: linear memory any KMS driver can allocate (primary nodes only). */
  createDumb(options: DumbBufferOptions): DumbBuffer {
    assertOpen(this);
    const o = optionsArg(options);
    const [width, height, bpp] = (['width', 'height', 'bpp'] as const).map((k) => toInt(o[k], `options.${k}`, 0, 0xffffffff));
    const dumb = this.seam.drmCreateDumb(this.fd, width, height, bpp, 0);
    return new DumbBuffer(this, dumb.handle, dumb.pitch, dumb.size);
  }

  /** Exports a GEM object as a dma-buf (PRIME); 'read' gives a read-only file. */
  exportHandle(handle: number, access: Access = 'rw'): DmaBuf {
    assertOpen(this);
    toInt(handle, 'handle', 0, 0xffffffff);
    const flags = uapi.DRM_CLOEXEC | (accessArg(access) === 'read' ? 0 : uapi.DRM_RDWR);
    return adoptDmaBuf(this.seam, this.seam.drmPrimeHandleToFd(this.fd, handle, flags), parentOf(this)!);
  }

  /**
   * Imports a dma-buf as a GEM handle of this file. Importing the same buffer
   * again gives the same handle; release it with closeHandle().
   */
  importDmaBuf(buf: DmaBuf): number {
    assertOpen(this);
    assertOpen(instanceArg(buf, DmaBuf, 'buf'));
    return this.seam.drmPrimeFdToHandle(this.fd, buf.fd);
  }

  closeHandle(handle: number): void {
    assertOpen(this);
    toInt(handle, 'handle', 0, 0xffffffff);
    this.seam.drmGemClose(this.fd, handle);
  }

  /**
   * vgem only: attaches an unsignalled fence to the buffer's reservation, as
   * a writer or a reader. vgem signals it itself after 10 s if nobody does.
   */
  attachFence(handle: number, access: 'read' | 'write' = 'write'): VgemFence {
    assertOpen(this);
    toInt(handle, 'handle', 0, 0xffffffff);
    const flags = oneOf(access, ['read', 'write'], 'access') === 'write' ? uapi.VGEM_FENCE_WRITE : 0;
    return new VgemFence(this, this.seam.vgemFenceAttach(this.fd, handle, flags));
  }
}

/** A fence vgem attached to a buffer; signal() completes it. */
export class VgemFence {
  readonly #device: DrmDevice;

  /** Made by attachFence(). */
  constructor(device: DrmDevice, readonly id: number) {
    this.#device = device;
  }

  signal(): void {
    const device = this.#device;
    assertOpen(device);
    device.seam.vgemFenceSignal(device.fd, this.id);
  }
}

/** A dumb buffer; closing it destroys the GEM object's handle. */
export class DumbBuffer extends Resource {
  constructor(readonly device: DrmDevice, readonly handle: number, readonly pitch: number, readonly size: bigint) {
    super(device);
    teardown(this, () => device.seam.drmDestroyDumb(device.fd, handle));
  }

  /** Exports the buffer as a dma-buf. */
  export(access: Access = 'rw'): DmaBuf {
    assertOpen(this);
    return this.device.exportHandle(this.handle, access);
  }

  attachFence(access: 'read' | 'write' = 'write'): VgemFence {
    assertOpen(this);
    return this.device.attachFence(this.handle, access);
  }
}
