// sync_file: info, merge and poll, with vgem fences as the timelines.
import * as uapi from '../../seam/uapi';
import { CLOSED_FD, dumb, fdinfo, heapBuffer, memfd, poll, syncInfo, vgem } from '../fixtures';
import { area, type Device } from '../scenario';
import type { Trial } from '../trial';

const { list, add } = area('sync_file');
export default list;
const needs: Device[] = ['vgem'];

/** A pending vgem fence as a sync_file, with what signals it. */
function fence(t: Trial, drm: number, write = true): { sync: number; signal: () => void } {
  const handle = dumb(t, drm);
  const buf = t.fd('export', (k) => k.drmPrimeHandleToFd(drm, handle, uapi.DRM_RDWR | uapi.DRM_CLOEXEC));
  const id = t.must(write ? 'attach write' : 'attach read', (k) => k.vgemFenceAttach(drm, handle, write ? uapi.VGEM_FENCE_WRITE : 0));
  const sync = t.fd('export sync_file', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_RW));
  t.close('close the export', buf);
  return { sync, signal: () => void t.step('signal', (k) => k.vgemFenceSignal(drm, id)) };
}

add('a pending fence, then its signal with a timestamp', needs, (t) => {
  const f = fence(t, vgem(t));
  syncInfo(t, 'pending', f.sync);
  poll(t, 'poll', f.sync);
  f.signal();
  syncInfo(t, 'signalled', f.sync);
  poll(t, 'poll', f.sync);
});

add('a sync_file is anon_inode:sync_file, close-on-exec', needs, (t) => {
  const f = fence(t, vgem(t));
  t.step('readlink', (k) => k.readlinkFd(f.sync));
  fdinfo(t, 'fdinfo', f.sync);
  f.signal();
});

add('a merge of two pending fences waits for both', needs, (t) => {
  const drm = vgem(t);
  const a = fence(t, drm);
  const c = fence(t, drm);
  const merged = t.fd('merge', (k) => k.syncFileMerge(a.sync, c.sync, 'both'));
  fdinfo(t, 'fdinfo', merged);
  syncInfo(t, 'info', merged);
  a.signal();
  poll(t, 'poll', merged);
  t.step('statuses', (k) => k.syncFileInfo(merged), (i) => i.fences.map((f) => f.status).sort());
  c.signal();
  poll(t, 'poll', merged);
  syncInfo(t, 'info', merged);
});

add('a merge with itself keeps one fence', needs, (t) => {
  const a = fence(t, vgem(t));
  const self = t.fd('merge with itself', (k) => k.syncFileMerge(a.sync, a.sync, 'self'));
  syncInfo(t, 'info', self);
  a.signal();
});

add('a merge drops signalled fences', needs, (t) => {
  const drm = vgem(t);
  const a = fence(t, drm);
  const c = fence(t, drm);
  a.signal();
  const one = t.fd('merge', (k) => k.syncFileMerge(a.sync, c.sync, 'one'));
  syncInfo(t, 'info', one);
  c.signal();
});

add('a merge of signalled fences is the signalled stub', needs, (t) => {
  const drm = vgem(t);
  const a = fence(t, drm);
  const c = fence(t, drm);
  a.signal();
  c.signal();
  const none = t.fd('merge', (k) => k.syncFileMerge(a.sync, c.sync, 'none'));
  syncInfo(t, 'info', none);
  poll(t, 'poll', none);
});

add('a merge name keeps its first 31 bytes', needs, (t) => {
  const a = fence(t, vgem(t));
  const merged = t.fd('merge', (k) => k.syncFileMerge(a.sync, a.sync, 'x'.repeat(40)));
  t.step('name', (k) => k.syncFileInfo(merged), (i) => i.name);
  a.signal();
});

add('a merge with what is no sync_file is ENOENT', needs, (t) => {
  const a = fence(t, vgem(t));
  const mem = memfd(t, 1, 0);
  t.tryFd('merge with a memfd', (k) => k.syncFileMerge(a.sync, mem, 'm'));
  t.tryFd('merge with a closed fd', (k) => k.syncFileMerge(a.sync, CLOSED_FD, 'm'));
  a.signal();
});

add('EXPORT_SYNC_FILE for a writer merges every reader into an array', needs, (t) => {
  const drm = vgem(t);
  const handle = dumb(t, drm);
  const buf = t.fd('export', (k) => k.drmPrimeHandleToFd(drm, handle, uapi.DRM_RDWR | uapi.DRM_CLOEXEC));
  const r1 = t.must('attach read', (k) => k.vgemFenceAttach(drm, handle, 0));
  t.must('attach read', (k) => k.vgemFenceAttach(drm, handle, 0));
  const forReader = t.fd('export for a reader', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_READ));
  syncInfo(t, 'info', forReader);
  const forWriter = t.fd('export for a writer', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_WRITE));
  syncInfo(t, 'info', forWriter);
  t.step('signal one', (k) => k.vgemFenceSignal(drm, r1));
  const later = t.fd('export for a writer', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_WRITE));
  syncInfo(t, 'info', later);
});

add('IMPORT_SYNC_FILE as a writer blocks both ways, as a reader only writers', ['vgem', 'heap'], (t) => {
  const drm = vgem(t);
  const f = fence(t, drm);
  const buf = heapBuffer(t, 4096);
  t.step('import write', (k) => k.dmaBufImportSyncFile(buf, uapi.DMA_BUF_SYNC_WRITE, f.sync));
  poll(t, 'poll', buf);
  const out = t.fd('export for a reader', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_READ));
  syncInfo(t, 'info', out);
  f.signal();
  poll(t, 'poll', buf);
  const reader = fence(t, drm);
  t.step('import read', (k) => k.dmaBufImportSyncFile(buf, uapi.DMA_BUF_SYNC_READ, reader.sync));
  poll(t, 'poll', buf);
  const forReader = t.fd('export for a reader', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_READ));
  syncInfo(t, 'info', forReader);
  reader.signal();
  poll(t, 'poll', buf);
});

add('IMPORT_SYNC_FILE RW adds a write fence', ['vgem', 'heap'], (t) => {
  const f = fence(t, vgem(t));
  const buf = heapBuffer(t, 4096);
  t.step('import RW', (k) => k.dmaBufImportSyncFile(buf, uapi.DMA_BUF_SYNC_RW, f.sync));
  poll(t, 'poll in', buf, uapi.POLLIN);
  f.signal();
  poll(t, 'poll in', buf, uapi.POLLIN);
});

add('SYNC_IOC_FILE_INFO and MERGE on a stub', ['heap'], (t) => {
  const buf = heapBuffer(t, 4096);
  const a = t.fd('export', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_READ));
  const b = t.fd('export', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_WRITE));
  const m = t.fd('merge', (k) => k.syncFileMerge(a, b, 'stubs'));
  syncInfo(t, 'info', m);
  poll(t, 'poll', m);
});

add('a sync_file polls POLLIN only, never POLLOUT', needs, (t) => {
  const f = fence(t, vgem(t));
  poll(t, 'poll out', f.sync, uapi.POLLOUT);
  f.signal();
  poll(t, 'poll out', f.sync, uapi.POLLOUT);
  poll(t, 'poll in|out', f.sync);
});

add('a read fence exported for writers', needs, (t) => {
  const f = fence(t, vgem(t), false);
  syncInfo(t, 'info', f.sync);
  f.signal();
  syncInfo(t, 'info', f.sync);
});
