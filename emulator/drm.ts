// The DRM core (drivers/gpu/drm): device nodes, per-open files with their
// GEM handles, dumb buffers and PRIME. Drivers plug in with DrmDriver.
import type { DrmVersion, DumbBuffer } from '../seam/backend';
import { systemError, systemErrorWhy } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import { DmaBufObject, Exporter } from './dmabuf';
import type { FileObject, Inode, MappedView, OpenFile, Vma } from './files';
import { Device, Machine, MOUNT } from './machine';
import { Shmem } from './memfd';
import { WaitQueue } from './poll';
import { DmaResv } from './resv';

const U32_MAX = 0xffffffff;

export interface DrmDriver<P = unknown> {
  readonly version: DrmVersion;
  /** driver->open: makes the file's driver_priv. */
  open(): P;
  /** driver->postclose, after the file's GEM handles are gone. */
  postclose(priv: P): void;
}

export class DrmDeviceObject {
  constructor(readonly machine: Machine, readonly driver: DrmDriver) {}

  /** A minor's device node: /dev/dri/cardN, or renderDN for a render node. */
  node(path: string, render: boolean): Device {
    const inode = { ino: this.machine.nextIno(), mntId: MOUNT.devtmpfs };
    return { inode, open: () => new DrmFile(this, path, inode, render) };
  }
}

/** A GEM object: shmem pages of its own, or an imported dma-buf. */
export class GemObject {
  #refs = 1;
  handleCount = 0;
  /** obj->dma_buf: its export, kept while it has handles, so re-export and import find it. */
  dmaBuf: DmaBufObject | undefined;
  readonly resv: DmaResv;

  private constructor(
    readonly device: DrmDeviceObject,
    readonly size: bigint,
    readonly pages: Shmem | undefined,
    /** The dma-buf this object was imported from (obj->import_attach->dmabuf), holding a reference. */
    readonly imported: DmaBufObject | undefined,
  ) {
    this.resv = imported?.resv ?? new DmaResv();
  }

  static create(device: DrmDeviceObject, pages: Shmem): GemObject {
    return new GemObject(device, BigInt(pages.size), pages, undefined);
  }

  static import(device: DrmDeviceObject, dmaBuf: DmaBufObject): GemObject {
    dmaBuf.file.get();
    return new GemObject(device, dmaBuf.size, undefined, dmaBuf);
  }

  get(): this {
    this.#refs++;
    return this;
  }

  put(): void {
    if (--this.#refs > 0) return;
    this.imported?.file.put();
    this.pages?.put();
  }
}

/** drm_gem_prime_export of a shmem GEM object; exp_name is the drm module's name. */
class GemExport implements Exporter {
  readonly expName = 'drm';

  constructor(readonly object: GemObject, private readonly shmem: Shmem) {
    object.get();
  }

  mmap(vma: Vma): MappedView {
    // drm_gem_shmem_mmap refuses copy-on-write mappings.
    if (!vma.shared) throw systemError('EINVAL', 'mmap');
    // drm_gem_shmem_fault counts pages from the start of the VMA, not from its
    // offset: a mapping at page N still shows the object from page 0 (seen on
    // 6.12.107). dma_buf_mmap_internal has already checked the range.
    return { view: this.shmem.map(0, vma.length, true) };
  }

  pages(): Uint8Array[] {
    return [this.shmem.map(0, this.shmem.size, true)];
  }

  release(): void {
    this.object.put();
  }
}

/** One open of a DRM node (struct drm_file). */
export class DrmFile implements FileObject {
  readonly priv: unknown;
  /** DRM events would wake it; none are modelled. */
  readonly waitQueue = new WaitQueue();
  readonly #handles = new Map<number, GemObject>();
  /** drm_prime_file_private: each handle's dma-buf, holding a reference. */
  readonly #prime = new Map<number, DmaBufObject>();

  constructor(
    readonly device: DrmDeviceObject,
    private readonly path: string,
    readonly inode: Inode,
    readonly render: boolean,
  ) {
    this.priv = device.driver.open();
  }

  dname(): string {
    return this.path;
  }

  /** noop_llseek. */
  llseek(file: OpenFile): bigint {
    return file.pos;
  }

  /** drm_poll: readable when DRM events are queued, and none ever are here. */
  poll(): number {
    return 0;
  }

  /** drm_gem_mmap finds no object at an offset MODE_MAP_DUMB never handed out. */
  mmap(): MappedView {
    throw systemError('EINVAL', 'mmap');
  }

  /** drm_ioctl_permit: a render node runs only DRM_RENDER_ALLOW ioctls. */
  permit(renderAllowed: boolean, syscall: string): void {
    if (this.render && !renderAllowed) throw systemError('EACCES', syscall);
  }

  lookup(handle: number): GemObject | undefined {
    return this.#handles.get(handle);
  }

  version(): DrmVersion {
    return { ...this.device.driver.version };
  }

  /** drm_mode_create_dumb's checks (32-bit arithmetic), then drm_gem_shmem_dumb_create. */
  createDumb(width: number, height: number, bpp: number): DumbBuffer {
    const syscall = 'DRM_IOCTL_MODE_CREATE_DUMB';
    [width, height, bpp] = [width >>> 0, height >>> 0, bpp >>> 0];
    if (!width || !height || !bpp || bpp > U32_MAX - 8) throw systemError('EINVAL', syscall);
    const cpp = Math.ceil(bpp / 8);
    if (cpp > Math.floor(U32_MAX / width)) throw systemError('EINVAL', syscall);
    const stride = cpp * width;
    if (height > Math.floor(U32_MAX / stride) || pageAlign32(height * stride) === 0) throw systemError('EINVAL', syscall);
    const pitch = Math.floor((((Math.imul(width, bpp) >>> 0) + 7) >>> 0) / 8);
    const size = pageAlign32(Math.imul(pitch, height) >>> 0);
    const memory = this.device.machine.memory;
    const pages = new Shmem(memory, size);
    if (!pages.resize(size)) throw systemErrorWhy('ENOMEM', syscall, 'the emulated machine is out of memory');
    const obj = GemObject.create(this.device, pages);
    const handle = this.#addHandle(obj);
    obj.put();
    return { handle, pitch, size: BigInt(size) };
  }

  /** drm_gem_handle_delete: DESTROY_DUMB and GEM_CLOSE alike. */
  deleteHandle(handle: number, syscall: string): void {
    const obj = this.#handles.get(handle);
    if (!obj) throw systemError('EINVAL', syscall);
    this.#handles.delete(handle);
    this.#releaseHandle(handle, obj);
  }

  /**
   * drm_gem_prime_handle_to_dmabuf. Returns the dma-buf with a reference for
   * the caller's new fd. The first export decides the file's access mode.
   */
  primeHandleToFd(handle: number, flags: number): DmaBufObject {
    const syscall = 'DRM_IOCTL_PRIME_HANDLE_TO_FD';
    if (flags & ~(uapi.DRM_CLOEXEC | uapi.DRM_RDWR)) throw systemError('EINVAL', syscall);
    const obj = this.#handles.get(handle);
    if (!obj) throw systemError('ENOENT', syscall);
    const cached = this.#prime.get(handle);
    if (cached) {
      cached.file.get();
      return cached;
    }
    // An imported object re-exports the dma-buf it came from.
    let dmaBuf = obj.imported ?? obj.dmaBuf;
    if (dmaBuf) {
      dmaBuf.file.get(); // the caller's
    } else {
      // Only imported objects lack pages of their own. The new dma-buf's first reference is the caller's.
      const exporter = new GemExport(obj, obj.pages!);
      dmaBuf = new DmaBufObject(this.device.machine, { exporter, size: obj.size, flags, resv: obj.resv });
      obj.dmaBuf = dmaBuf;
      dmaBuf.file.get(); // obj->dma_buf's
    }
    this.#prime.set(handle, dmaBuf);
    dmaBuf.file.get();
    return dmaBuf;
  }

  /** drm_gem_prime_fd_to_handle: the same dma-buf gives the same handle; this device's own export gives its object. */
  primeFdToHandle(file: OpenFile | undefined): number {
    const syscall = 'DRM_IOCTL_PRIME_FD_TO_HANDLE';
    if (!file) throw systemError('EBADF', syscall);
    const dmaBuf = file.object;
    if (!(dmaBuf instanceof DmaBufObject)) throw systemError('EINVAL', syscall);
    for (const [handle, known] of this.#prime) if (known === dmaBuf) return handle;
    const exporter = dmaBuf.exporter;
    const obj = exporter instanceof GemExport && exporter.object.device === this.device
      ? exporter.object.get()
      : GemObject.import(this.device, dmaBuf);
    if (!obj.dmaBuf) {
      obj.dmaBuf = dmaBuf;
      dmaBuf.file.get();
    }
    const handle = this.#addHandle(obj);
    obj.put();
    this.#prime.set(handle, dmaBuf);
    dmaBuf.file.get();
    return handle;
  }

  /** drm_release: the handles go, then the driver's postclose. */
  release(): void {
    for (const [handle, obj] of [...this.#handles]) {
      this.#handles.delete(handle);
      this.#releaseHandle(handle, obj);
    }
    this.device.driver.postclose(this.priv);
  }

  /** Lowest free handle from 1; the handle holds a reference. */
  #addHandle(obj: GemObject): number {
    let handle = 1;
    while (this.#handles.has(handle)) handle++;
    this.#handles.set(handle, obj.get());
    obj.handleCount++;
    return handle;
  }

  /** drm_gem_object_release_handle. */
  #releaseHandle(handle: number, obj: GemObject): void {
    const prime = this.#prime.get(handle);
    if (prime) {
      this.#prime.delete(handle);
      prime.file.put();
    }
    if (--obj.handleCount === 0 && obj.dmaBuf) {
      const dmaBuf = obj.dmaBuf;
      obj.dmaBuf = undefined;
      dmaBuf.file.put();
    }
    obj.put();
  }
}

/** PAGE_ALIGN on a u32: 0 where it wraps. */
function pageAlign32(n: number): number {
  return (((n + uapi.PAGE_SIZE - 1) >>> 0) & ~(uapi.PAGE_SIZE - 1)) >>> 0;
}
