// On-demand paging on rxe: 7.3's rxe registers MRs whose pages fault in at
// first access (or at a prefetch), charge nothing to RLIMIT_MEMLOCK and
// follow the process's mappings; 6.12's rxe refuses the access flag and
// advise_mr (EOPNOTSUPP).
import type { IbvMr } from '../../seam/backend-verbs';
import * as uapi from '../../seam/uapi';
import { IBV_ADVISE_MR_ADVICE, IBV_ADVISE_MR_FLAG } from '../../seam/verbs-uapi';
import { child, unprivileged } from '../children';
import { memfd, PAGE, RW } from '../fixtures';
import { A, completions, context, mr, pd, post, rig, shared, type Rig } from '../rdma';
import { area, type Device } from '../scenario';
import type { Trial } from '../trial';

const { list, add } = area('odp');
export default list;
const needs: Device[] = ['rxe'];
const LW = A.LOCAL_WRITE;
const ODP = LW | A.REMOTE_WRITE | A.REMOTE_READ | A.ON_DEMAND;

/** `pages` pages of a fresh memfd, mapped and never touched. */
function freshPages(t: Trial, pages: number): Uint8Array {
  return t.map(`map ${pages} fresh memfd pages`, memfd(t, pages, 0), pages * PAGE, RW, uapi.MAP_SHARED);
}

add('reg_mr with on-demand', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  mr(t, p, shared(PAGE), LW | A.ON_DEMAND, 'reg_mr on-demand');
});

// The rig's path MTU. On 7.3.4 rxe copies each packet through an on-demand
// MR to or from the start of its page, whatever its offset there (README,
// Two kernels; the packet scenarios below): writes that must land whole go
// one packet per page, at the page's start.
const PACKET = 1024;

add('an RDMA write into on-demand pages never touched faults them in', needs, async (t) => {
  const r = rig(t);
  const src = shared(new Uint8Array(4 * PAGE).map((_, i) => (i * 13) & 0xff));
  const l = mr(t, r.pd, src, LW, 'reg_mr source');
  const dst = freshPages(t, 4);
  const d = mr(t, r.pd, dst, ODP, 'reg_mr the fresh pages on demand');
  post(t, 'post a packet\'s write into each page', r.a, [0, 1, 2, 3].map((p) => ({
    opcode: 'RDMA_WRITE' as const, id: BigInt(p), local: { mr: l, offset: p * PAGE, length: PACKET }, remote: { addr: d.addr + BigInt(p * PAGE), rkey: d.rkey },
  })));
  await completions(t, 'completions', r.cq, 4);
  t.note('target bytes', dst);
});

add('an RDMA read from on-demand pages never touched reads zeros', needs, async (t) => {
  const r = rig(t);
  const mine = shared(2 * PAGE).fill(0xee);
  const l = mr(t, r.pd, mine, LW, 'reg_mr mine');
  const theirs = freshPages(t, 2);
  const d = mr(t, r.pd, theirs, ODP, 'reg_mr the fresh pages on demand');
  post(t, 'post read', r.a, [{ opcode: 'RDMA_READ', id: 2n, local: { mr: l, length: 2 * PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
  t.note('bytes read', mine);
});

add('an RDMA write into an on-demand MR after its pages were unmapped fails, and the QP with it', needs, async (t) => {
  const r = rig(t);
  const src = shared(PAGE).fill(0x5a);
  const l = mr(t, r.pd, src, LW, 'reg_mr source');
  const dst = freshPages(t, 1);
  const d = mr(t, r.pd, dst, ODP, 'reg_mr the page on demand');
  post(t, 'post write', r.a, [{ opcode: 'RDMA_WRITE', id: 1n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
  t.unmap('munmap the page', dst);
  post(t, 'post write after munmap', r.a, [{ opcode: 'RDMA_WRITE', id: 2n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions after munmap', r.cq, 1);
});

const odpMemlock = child('odp/memlock', (t) => {
  const { hard } = t.k.getMemlockLimit();
  t.must('limit 0', (k) => k.setMemlockLimit(0n, hard));
  const ctx = context(t);
  const p = pd(t, ctx);
  const pages = t.map('map 256 pages', memfd(t, 256, 0), 256 * PAGE, RW, uapi.MAP_SHARED);
  mr(t, p, pages, LW | A.ON_DEMAND, 'reg_mr 1 MiB on demand');
});

add('memlock: on-demand MRs are not charged, even under a limit of 0', needs, async (t) => {
  await unprivileged(t, odpMemlock);
});

/** Posts an RDMA read of `length` bytes of `from` into `into`, and waits for it. */
async function readBack(t: Trial, r: Rig, label: string, into: IbvMr, from: IbvMr, length: number): Promise<void> {
  post(t, `post ${label}`, r.a, [{ opcode: 'RDMA_READ', id: 7n, local: { mr: into, length }, remote: { addr: from.addr, rkey: from.rkey } }]);
  await completions(t, `completions of ${label}`, r.cq, 1);
}

/** Posts one packet's RDMA write from the start of `from` to the start of `into`, and waits for it. */
async function writePacket(t: Trial, r: Rig, label: string, from: IbvMr, into: IbvMr): Promise<void> {
  post(t, `post ${label}`, r.a, [{ opcode: 'RDMA_WRITE', id: 8n, local: { mr: from, length: PACKET }, remote: { addr: into.addr, rkey: into.rkey } }]);
  await completions(t, `completions of ${label}`, r.cq, 1);
}

// MADV_DONTNEED drops the process's pages of the range: the MR's notifier
// invalidates them, and the next RDMA access faults in what the process
// now has there. A shared mapping finds the same file pages again.
add('madvise(MADV_DONTNEED) under an on-demand MR over a shared mapping: RDMA finds the file\'s pages again', needs, async (t) => {
  const r = rig(t);
  const mine = shared(PAGE);
  const l = mr(t, r.pd, mine, LW, 'reg_mr mine');
  const page = freshPages(t, 1);
  page.fill(0x3c);
  const d = mr(t, r.pd, page, ODP, 'reg_mr the page on demand');
  await readBack(t, r, 'read', l, d, PAGE);
  t.step('madvise(MADV_DONTNEED) the page', (k) => k.madvise(page, uapi.MADV_DONTNEED));
  mine.fill(0);
  await readBack(t, r, 'read after madvise', l, d, PAGE);
  t.note('bytes read after madvise', mine);
  mine.fill(0x5a);
  await writePacket(t, r, 'write after madvise', l, d);
  t.note('the page as the CPU sees it: [0], [packet - 1], [packet]', [page[0], page[PACKET - 1], page[PACKET]]);
});

// In a private mapping the device's write breaks copy-on-write as a CPU
// write does: the bytes land in the process's own page, not the file.
// MADV_DONTNEED throws that page away: CPU and device both read the file.
add('madvise(MADV_DONTNEED) under an on-demand MR over a private mapping: the device wrote the process\'s own page, and then finds the file\'s', needs, async (t) => {
  const r = rig(t);
  const mine = shared(PAGE).fill(0x5a);
  const l = mr(t, r.pd, mine, LW, 'reg_mr mine');
  const fd = memfd(t, 1, 0);
  const file = t.map('map the memfd shared', fd, PAGE, RW, uapi.MAP_SHARED);
  file.fill(0x11);
  const own = t.map('map the memfd private', fd, PAGE, RW, uapi.MAP_PRIVATE);
  const d = mr(t, r.pd, own, ODP, 'reg_mr the private mapping on demand');
  await writePacket(t, r, 'write', l, d);
  t.note('private [0], private [packet], file [0] after the write', [own[0], own[PACKET], file[0]]);
  t.step('madvise(MADV_DONTNEED) the private mapping', (k) => k.madvise(own, uapi.MADV_DONTNEED));
  t.note('private [0], [packet] after madvise', [own[0], own[PACKET]]);
  mine.fill(0);
  await readBack(t, r, 'read after madvise', l, d, PAGE);
  t.note('bytes read after madvise', mine);
});

/** The first byte of each packet of a page. */
const packetStarts = (view: Uint8Array): number[] => [0, 1, 2, 3].map((k) => view[k * PACKET]!);

// Where in its page a copy through an on-demand MR lands, packet by packet:
// each packet of the source is filled with its own byte. 7.3.4's
// rxe_odp_mr_copy leaves out the offset within the page: all four packets
// land at the page's start, the last one staying, and a read's packets all
// read the page's first bytes.
add('an RDMA write of four packets into one on-demand page: where each packet lands', needs, async (t) => {
  const r = rig(t);
  const src = shared(new Uint8Array(PAGE).map((_, i) => 0x10 + Math.floor(i / PACKET)));
  const l = mr(t, r.pd, src, LW, 'reg_mr source');
  const page = freshPages(t, 1);
  const d = mr(t, r.pd, page, ODP, 'reg_mr the page on demand');
  post(t, 'post a page\'s write', r.a, [{ opcode: 'RDMA_WRITE', id: 1n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
  t.note('first byte of each packet of the page', packetStarts(page));
});

add('an RDMA read of an on-demand page, and of its second packet alone: what each packet reads', needs, async (t) => {
  const r = rig(t);
  const mine = shared(PAGE);
  const l = mr(t, r.pd, mine, LW, 'reg_mr mine');
  const page = freshPages(t, 1);
  page.set(new Uint8Array(PAGE).map((_, i) => 0xa0 + Math.floor(i / PACKET)));
  const d = mr(t, r.pd, page, ODP, 'reg_mr the page on demand');
  await readBack(t, r, 'read of the page', l, d, PAGE);
  t.note('first byte of each packet read', packetStarts(mine));
  mine.fill(0);
  post(t, 'post read of the second packet', r.a, [{ opcode: 'RDMA_READ', id: 2n, local: { mr: l, length: PACKET }, remote: { addr: d.addr + BigInt(PACKET), rkey: d.rkey } }]);
  await completions(t, 'completions of the second packet\'s read', r.cq, 1);
  t.note('first and last byte read', [mine[0], mine[PACKET - 1]]);
});

// ibv_advise_mr, sent by the addon as the kernel's own command (libibverbs 44's
// rxe provider has no advise_mr): 7.3's rxe prefetches into on-demand MRs,
// 6.12's has no advise_mr at all (EOPNOTSUPP).
const ADVICE = IBV_ADVISE_MR_ADVICE;
const FLUSH = IBV_ADVISE_MR_FLAG.FLUSH;

/** ibv_advise_mr of [at, at + length) of `m` (an offset from its start, negative before it), as a step. */
function advise(t: Trial, label: string, pdHandle: number, m: IbvMr, advice: number, flags: number, at: number, length: number): void {
  t.step(label, (k) => k.ibvAdviseMr(pdHandle, advice, flags, m.lkey, m.addr + BigInt(at), length));
}

add('advise_mr prefetch-write with FLUSH into fresh on-demand pages, then RDMA into them and back', needs, async (t) => {
  const r = rig(t);
  const src = shared(new Uint8Array(4 * PAGE).map((_, i) => (i * 7) & 0xff));
  const l = mr(t, r.pd, src, LW, 'reg_mr source');
  const dst = freshPages(t, 4);
  const d = mr(t, r.pd, dst, ODP, 'reg_mr the fresh pages on demand');
  advise(t, 'advise_mr PREFETCH_WRITE with FLUSH over the 4 pages', r.pd, d, ADVICE.PREFETCH_WRITE, FLUSH, 0, 4 * PAGE);
  post(t, 'post a packet\'s write into each page', r.a, [0, 1, 2, 3].map((p) => ({
    opcode: 'RDMA_WRITE' as const, id: BigInt(p), local: { mr: l, offset: p * PAGE, length: PACKET }, remote: { addr: d.addr + BigInt(p * PAGE), rkey: d.rkey },
  })));
  await completions(t, 'completions', r.cq, 4);
  t.note('target bytes', dst);
  const back = shared(4 * PAGE);
  const b = mr(t, r.pd, back, LW, 'reg_mr read-back');
  await readBack(t, r, 'read of the 4 pages', b, d, 4 * PAGE);
  t.note('bytes read back', back);
});

add('advise_mr on an on-demand MR: each advice, with FLUSH and without', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const d = mr(t, p, freshPages(t, 2), ODP, 'reg_mr 2 fresh pages on demand');
  advise(t, 'PREFETCH with FLUSH', p, d, ADVICE.PREFETCH, FLUSH, 0, PAGE);
  advise(t, 'PREFETCH_WRITE with FLUSH, from mid-page into the next', p, d, ADVICE.PREFETCH_WRITE, FLUSH, 100, PAGE);
  advise(t, 'PREFETCH_NO_FAULT with FLUSH', p, d, ADVICE.PREFETCH_NO_FAULT, FLUSH, 0, 2 * PAGE);
  advise(t, 'PREFETCH_WRITE without FLUSH (queued)', p, d, ADVICE.PREFETCH_WRITE, 0, 0, 2 * PAGE);
});

add('advise_mr refusals on an on-demand MR: advice 3, an unknown flag, ranges outside the MR, a stale lkey, no local write', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const d = mr(t, p, freshPages(t, 2), ODP, 'reg_mr 2 fresh pages on demand');
  advise(t, 'advice 3', p, d, 3, FLUSH, 0, PAGE);
  advise(t, 'flags 2', p, d, ADVICE.PREFETCH, 2, 0, PAGE);
  advise(t, 'a page past the end', p, d, ADVICE.PREFETCH_WRITE, FLUSH, PAGE, 2 * PAGE);
  advise(t, 'a page before the start', p, d, ADVICE.PREFETCH_WRITE, FLUSH, -PAGE, 2 * PAGE);
  advise(t, 'a page past the end, without FLUSH', p, d, ADVICE.PREFETCH_WRITE, 0, PAGE, 2 * PAGE);
  advise(t, 'the lkey with its key byte changed', p, { ...d, lkey: d.lkey ^ 1 }, ADVICE.PREFETCH, FLUSH, 0, PAGE);
  const readOnly = mr(t, p, freshPages(t, 1), A.REMOTE_READ | A.ON_DEMAND, 'reg_mr a fresh page on demand, remote read only');
  advise(t, 'PREFETCH with FLUSH on the MR without local write', p, readOnly, ADVICE.PREFETCH, FLUSH, 0, PAGE);
});

add('advise_mr after the on-demand pages were unmapped: with FLUSH and without', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const page = freshPages(t, 1);
  const d = mr(t, p, page, ODP, 'reg_mr a fresh page on demand');
  t.unmap('munmap the page', page);
  advise(t, 'PREFETCH_WRITE with FLUSH', p, d, ADVICE.PREFETCH_WRITE, FLUSH, 0, PAGE);
  advise(t, 'PREFETCH_NO_FAULT with FLUSH', p, d, ADVICE.PREFETCH_NO_FAULT, FLUSH, 0, PAGE);
  advise(t, 'PREFETCH_WRITE without FLUSH (queued)', p, d, ADVICE.PREFETCH_WRITE, 0, 0, PAGE);
});

// On 6.12 no MR can be on demand, so these are where 6.12's answer shows.
add('advise_mr with an lkey that names no MR', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  t.step('PREFETCH with FLUSH, lkey 0x12345600', (k) => k.ibvAdviseMr(p, ADVICE.PREFETCH, FLUSH, 0x12345600, 0x10000n, PAGE));
});

add('advise_mr on a pinned MR is refused before the kernel', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const m = mr(t, p, shared(PAGE), LW, 'reg_mr a page, pinned');
  advise(t, 'PREFETCH_WRITE with FLUSH', p, m, ADVICE.PREFETCH_WRITE, FLUSH, 0, PAGE);
});
