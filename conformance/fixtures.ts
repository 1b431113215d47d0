// The set-up most scenarios start from, made of recorded steps, and the ways
// of showing a value that keep what a user relies on and drop what differs
// between runs.
import type { SyncFileInfo, UdmabufItem } from '../seam/backend';
import { parseFdinfo } from '../src/fdinfo';
import * as uapi from '../seam/uapi';
import type { Trial } from './trial';

export const PAGE = uapi.PAGE_SIZE;
export const MiB = 1n << 20n;
/** An fd number no process here has open. */
export const CLOSED_FD = 99_999;
export const RW = uapi.PROT_READ | uapi.PROT_WRITE;

export const item = (memfd: number, offset: number | bigint, size: number | bigint): UdmabufItem =>
  ({ memfd, offset: BigInt(offset), size: BigInt(size) });

/** A memfd of `pages` pages made with MFD_ALLOW_SEALING, with `seals` added. */
export function memfd(t: Trial, pages: number, seals: number = uapi.F_SEAL_SHRINK, flags = uapi.MFD_ALLOW_SEALING | uapi.MFD_CLOEXEC): number {
  const fd = t.fd('memfd_create', (k) => k.memfdCreate('dmabridge-conformance', flags));
  t.must(`ftruncate ${pages} pages`, (k) => k.ftruncate(fd, BigInt(pages * PAGE)));
  if (seals) t.must(`add seals ${seals}`, (k) => k.addSeals(fd, seals));
  return fd;
}

export function udmabufDevice(t: Trial): number {
  return t.fd('open /dev/udmabuf', (k) => k.open('/dev/udmabuf', uapi.O_RDWR | uapi.O_CLOEXEC));
}

/** A udmabuf over a fresh sealed memfd of `pages` pages: [dma-buf, memfd]. */
export function udmabuf(t: Trial, pages: number, flags = 0): [number, number] {
  const dev = udmabufDevice(t);
  const mem = memfd(t, pages);
  return [t.fd('UDMABUF_CREATE', (k) => k.udmabufCreate(dev, item(mem, 0, pages * PAGE), flags)), mem];
}

export function heap(t: Trial): number {
  return t.fd('open the system heap', (k) => k.open('/dev/dma_heap/system', uapi.O_RDONLY | uapi.O_CLOEXEC));
}

/** A system-heap dma-buf of `len` bytes. */
export function heapBuffer(t: Trial, len: number, fdFlags = uapi.O_RDWR | uapi.O_CLOEXEC): number {
  const h = heap(t);
  return t.fd(`alloc ${len} bytes`, (k) => k.dmaHeapAlloc(h, BigInt(len), fdFlags, 0n));
}

/** vgem's primary (card) or render node, found by driver name as the selftests do. */
export function vgem(t: Trial, node: 'card' | 'renderD' = 'card'): number {
  const names = t.must('list /dev/dri', (k) => k.readdir('/dev/dri'), () => 'listed');
  for (const name of names.filter((n) => n.startsWith(node)).sort()) {
    const fd = t.k.open(`/dev/dri/${name}`, uapi.O_RDWR | uapi.O_CLOEXEC);
    if (t.k.drmVersion(fd).name === 'vgem') {
      t.k.close(fd);
      return t.fd(`open vgem's ${node} node`, (k) => k.open(`/dev/dri/${name}`, uapi.O_RDWR | uapi.O_CLOEXEC));
    }
    t.k.close(fd);
  }
  t.note(`no vgem ${node} node`, true);
  throw new Error(`no vgem ${node} node in /dev/dri`);
}

/** A vgem dumb buffer of `pages` pages: its handle. */
export function dumb(t: Trial, drm: number, pages = 1): number {
  return t.must(`create a ${pages}-page dumb buffer`, (k) => k.drmCreateDumb(drm, PAGE / 4, pages, 32, 0), (d) => d).handle;
}

/** A dumb buffer exported read-write: [dma-buf fd, handle]. */
export function dumbExport(t: Trial, drm: number, pages = 1): [number, number] {
  const handle = dumb(t, drm, pages);
  return [t.fd('PRIME_HANDLE_TO_FD rdwr', (k) => k.drmPrimeHandleToFd(drm, handle, uapi.DRM_RDWR | uapi.DRM_CLOEXEC)), handle];
}

/** fdinfo's fields that a user reads; mnt_id and ino differ between runs. */
export function fdinfo(t: Trial, label: string, fd: number): Map<string, string> | undefined {
  const text = t.step(label, (k) => k.readFdinfo(fd), (text) => {
    const fields = parseFdinfo(text);
    fields.delete('mnt_id');
    fields.delete('ino');
    return Object.fromEntries(fields);
  });
  return text === undefined ? undefined : parseFdinfo(text);
}

/** The inode fdinfo shows, to compare between fds (never recorded itself). */
export function inode(t: Trial, fd: number): string | undefined {
  return parseFdinfo(t.k.readFdinfo(fd)).get('ino');
}

/** sync_file info without what differs between runs: fence context numbers, timestamps (only whether set). */
export function showSyncInfo(info: SyncFileInfo): unknown {
  return {
    name: info.name.replace(/(\D)\d+-(\d+)$/, '$1<ctx>-$2'),
    status: info.status,
    fences: info.fences.map((f) => ({ obj: f.objName, driver: f.driverName, status: f.status, flags: f.flags, stamped: f.timestampNs > 0n })),
  };
}

export function syncInfo(t: Trial, label: string, fd: number): SyncFileInfo | undefined {
  return t.step(label, (k) => k.syncFileInfo(fd), showSyncInfo);
}

/** poll(2) as a name list, so records read well. */
export function showEvents(events: number): string {
  const names = [[uapi.POLLIN, 'IN'], [uapi.POLLOUT, 'OUT'], [uapi.POLLERR, 'ERR'], [uapi.POLLHUP, 'HUP'], [uapi.POLLNVAL, 'NVAL']] as const;
  const set = names.filter(([bit]) => events & bit).map(([, name]) => name);
  const rest = events & ~names.reduce((a, [bit]) => a | bit, 0);
  return set.join('|') + (rest ? `|0x${rest.toString(16)}` : '') || 'none';
}

export function poll(t: Trial, label: string, fd: number, events = uapi.POLLIN | uapi.POLLOUT): void {
  t.step(label, (k) => k.poll(fd, events), showEvents);
}
