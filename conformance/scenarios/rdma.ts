// RDMA on rxe: access checks, keys, dma-buf registration, traffic and its
// errors, and the PD's reference counting.
import * as uapi from '../../seam/uapi';
import { wcWords } from '../../seam/work-requests';
import { heapBuffer, memfd, PAGE, RW, udmabuf } from '../fixtures';
import { A, completions, connect, context, cq, deregMr, mr, pd, post, postRecv, qp, qpInit as qpInitOn, rig, shared, showMr } from '../rdma';
import { child, unprivileged } from '../children';
import { area, type Device } from '../scenario';
import type { Trial } from '../trial';
import { regDmabufMr, regMr } from '../../seam/mr-words';

const { list, add } = area('rdma');
export default list;
const needs: Device[] = ['rxe'];
const LW = A.LOCAL_WRITE;

add('the device list has rxe0', needs, (t) => {
  t.step('ibv_get_device_list', (k) => k.ibvGetDeviceList(), (list) => list.some((d) => d.name === 'rxe0'));
});

add('a device that is not there is ENODEV', needs, (t) => {
  t.step('open dmabridge-none0', (k) => k.ibvOpenDevice('dmabridge-none0'));
});

add('rxe0\'s port: active, Ethernet, with an IPv4-mapped GID of 127.0.0.1', needs, (t) => {
  const ctx = context(t);
  t.step('query port 1', (k) => k.ibvQueryPort(ctx, 1), (p) => ({ state: p.state, linkLayer: p.linkLayer, lid: p.lid }));
  t.step('query gid 1', (k) => k.ibvQueryGid(ctx, 1, 1), (g) => Array.from(g.subarray(10)));
  t.step('query port 2', (k) => k.ibvQueryPort(ctx, 2), () => 'queried');
});

add('rxe0: its ports, ODP capabilities and SGE limit', needs, (t) => {
  const ctx = context(t);
  t.step('query device', (k) => k.ibvQueryDevice(ctx), (d) => ({ ports: d.physPortCnt, odp: d.odpGeneralCaps, odpRc: d.odpRcCaps, maxSge: d.maxSge }));
});

for (const [access, name] of [
  [LW, 'local-write'],
  [0, 'none'],
  [A.REMOTE_READ, 'remote-read without local-write'],
  [LW | A.REMOTE_WRITE, 'local-write|remote-write'],
  [LW | A.REMOTE_WRITE | A.REMOTE_READ | A.REMOTE_ATOMIC, 'all remote'],
  [LW | A.MW_BIND, 'mw-bind'],
  [LW | A.RELAXED_ORDERING, 'relaxed-ordering'],
] as const) {
  add(`reg_mr with ${name}: keys equal, length kept`, needs, (t) => {
    const ctx = context(t);
    const p = pd(t, ctx);
    mr(t, p, shared(2 * PAGE), access);
  });
}

for (const [access, name] of [
  [A.REMOTE_WRITE, 'remote-write without local-write'],
  [A.REMOTE_ATOMIC, 'remote-atomic without local-write'],
  [A.REMOTE_WRITE | A.REMOTE_READ, 'remote-write|remote-read without local-write'],
  [LW | A.ZERO_BASED, 'zero-based'],
  [LW | A.HUGETLB, 'hugetlb'],
  [LW | (1 << 30), 'bit 30'],
  [LW | A.FLUSH_GLOBAL, 'flush-global'],
] as const) {
  add(`reg_mr with ${name} is refused`, needs, (t) => {
    const ctx = context(t);
    const p = pd(t, ctx);
    t.step(`reg_mr access ${access}`, (k) => regMr(k, p, shared(PAGE), access), showMr);
  });
}

add('keys: index above a random byte, handed out in order', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const keys = [0, 1, 2].map((i) => mr(t, p, shared(PAGE), LW, `reg_mr ${i}`).lkey);
  t.note('consecutive indexes', keys.slice(1).map((key, i) => (key >>> 8) - (keys[i]! >>> 8)));
});

add('a freed key index is not handed out again at once', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const first = mr(t, p, shared(PAGE), LW, 'reg_mr');
  deregMr(t, first);
  const second = mr(t, p, shared(PAGE), LW, 'reg_mr again');
  t.note('a new index', (second.lkey >>> 8) !== (first.lkey >>> 8));
});

add('dereg_mr twice: the handle names nothing', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const m = mr(t, p, shared(PAGE), LW);
  deregMr(t, m);
  t.step('dereg_mr again', (k) => k.ibvDeregMr(m.handle));
});

add('reg_mr of a zero-length view is EINVAL', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  t.step('reg_mr of 0 bytes', (k) => regMr(k, p, shared(0), LW), showMr);
});

add('reg_mr of an unaligned, odd-sized view', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  mr(t, p, shared(3 * PAGE).subarray(100, 100 + 5000), LW);
});

add('reg_dmabuf_mr is EOPNOTSUPP on rxe, even for fd -1', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  t.step('reg_dmabuf_mr fd -1', (k) => regDmabufMr(k, p, 0n, BigInt(PAGE), 0n, -1, LW), showMr);
});

add('reg_dmabuf_mr of a udmabuf is EOPNOTSUPP on rxe', ['rxe', 'udmabuf'], (t) => {
  const [buf] = udmabuf(t, 4);
  const ctx = context(t);
  const p = pd(t, ctx);
  t.step('reg_dmabuf_mr', (k) => regDmabufMr(k, p, 0n, BigInt(4 * PAGE), 0n, buf, LW | A.REMOTE_WRITE), showMr);
});

add('reg_mr of a udmabuf mapping is EFAULT; of its memfd mapping it works', ['rxe', 'udmabuf'], (t) => {
  const [buf, mem] = udmabuf(t, 4);
  const ctx = context(t);
  const p = pd(t, ctx);
  const dma = t.map('map the udmabuf', buf, 4 * PAGE, RW, uapi.MAP_SHARED);
  t.step('reg_mr of the udmabuf mapping', (k) => regMr(k, p, dma, LW), showMr);
  const file = t.map('map the memfd', mem, 4 * PAGE, RW, uapi.MAP_SHARED);
  mr(t, p, file, LW | A.REMOTE_WRITE, 'reg_mr of the memfd mapping');
});

add('reg_mr of a heap dma-buf mapping is EFAULT', ['rxe', 'heap'], (t) => {
  const buf = heapBuffer(t, 2 * PAGE);
  const ctx = context(t);
  const p = pd(t, ctx);
  const view = t.map('map', buf, 2 * PAGE, RW, uapi.MAP_SHARED);
  t.step('reg_mr of the mapping', (k) => regMr(k, p, view, LW), showMr);
});

add('reg_mr of a memfd mapping works, read-only mapping with local-write too', needs, (t) => {
  const mem = memfd(t, 2, 0);
  const ctx = context(t);
  const p = pd(t, ctx);
  const view = t.map('map rw', mem, 2 * PAGE, RW, uapi.MAP_SHARED);
  mr(t, p, view, LW | A.REMOTE_READ);
});

// Memory is known by address: any view into a mapping is that mapping.
add('by address: reg_mr of sub-views and other views of a heap dma-buf mapping is EFAULT', ['rxe', 'heap'], (t) => {
  const buf = heapBuffer(t, 4 * PAGE);
  const ctx = context(t);
  const p = pd(t, ctx);
  const view = t.map('map', buf, 4 * PAGE, RW, uapi.MAP_SHARED);
  t.step('reg_mr of pages 1-2', (k) => regMr(k, p, view.subarray(PAGE, 3 * PAGE), LW), showMr);
  t.step('reg_mr of 100 bytes inside page 3', (k) => regMr(k, p, view.subarray(3 * PAGE + 100, 3 * PAGE + 200), LW), showMr);
  t.step('reg_mr of a new view over the same memory', (k) => regMr(k, p, new Uint8Array(view.buffer, view.byteOffset, 4 * PAGE), LW), showMr);
});

add('by address: reg_mr of a sub-view of a udmabuf mapping is EFAULT; once unmapped, of its memfd mapping it works', ['rxe', 'udmabuf'], (t) => {
  const [buf, mem] = udmabuf(t, 4);
  const ctx = context(t);
  const p = pd(t, ctx);
  const dma = t.map('map the udmabuf', buf, 4 * PAGE, RW, uapi.MAP_SHARED);
  t.step('reg_mr of page 2 of the udmabuf mapping', (k) => regMr(k, p, dma.subarray(2 * PAGE, 3 * PAGE), LW), showMr);
  t.unmap('unmap the udmabuf', dma);
  const file = t.map('map the memfd', mem, 4 * PAGE, RW, uapi.MAP_SHARED);
  mr(t, p, file.subarray(2 * PAGE, 3 * PAGE), LW | A.REMOTE_WRITE, 'reg_mr of page 2 of the memfd mapping');
});

add('by address: reg_mr of a sub-view of a read-only mapping: EFAULT with local-write, fine without', needs, (t) => {
  const mem = memfd(t, 2, 0);
  const ctx = context(t);
  const p = pd(t, ctx);
  const view = t.map('map read-only', mem, 2 * PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
  t.step('reg_mr of page 1, local-write', (k) => regMr(k, p, view.subarray(PAGE), LW), showMr);
  t.step('reg_mr of a new view of 100 bytes, local-write', (k) => regMr(k, p, new Uint8Array(view.buffer, view.byteOffset + 10, 100), LW), showMr);
  mr(t, p, view.subarray(PAGE), A.REMOTE_READ, 'reg_mr of page 1, remote-read');
});

add('by address: MRs over overlapping views of one mapping: a write through one is read through the other and the mapping', needs, async (t) => {
  const r = rig(t);
  const mem = memfd(t, 3, 0);
  const view = t.map('map rw', mem, 3 * PAGE, RW, uapi.MAP_SHARED);
  const remote = LW | A.REMOTE_WRITE | A.REMOTE_READ;
  const first = mr(t, r.pd, view.subarray(0, 2 * PAGE), remote, 'reg_mr of pages 0-1');
  const second = mr(t, r.pd, view.subarray(PAGE, 3 * PAGE), remote, 'reg_mr of pages 1-2');
  const l = mr(t, r.pd, shared(new Uint8Array(PAGE).map((_, i) => (i * 7 + 1) & 0xff)), LW, 'reg_mr source');
  const back = shared(PAGE);
  const b = mr(t, r.pd, back, LW, 'reg_mr read-back');
  post(t, 'write a page at the start of the second MR', r.a, [{ opcode: 'RDMA_WRITE', id: 40n, local: { mr: l, length: PAGE }, remote: { addr: second.addr, rkey: second.rkey } }]);
  await completions(t, 'write completes', r.cq, 1);
  post(t, 'read page 1 through the first MR', r.a, [{ opcode: 'RDMA_READ', id: 41n, local: { mr: b, length: PAGE }, remote: { addr: first.addr + BigInt(PAGE), rkey: first.rkey } }]);
  await completions(t, 'read completes', r.cq, 1);
  t.note('read back', back);
  t.note('page 1 through a new view of the mapping', new Uint8Array(view.buffer, view.byteOffset + PAGE, PAGE));
  t.note('page 0 untouched', view.subarray(0, PAGE));
});

add('dealloc_pd with an MR is EBUSY, then works', needs, (t) => {
  const ctx = context(t);
  const p = t.must('alloc pd', (k) => k.ibvAllocPd(ctx), () => 'made');
  const m = t.must('reg_mr', (k) => regMr(k, p, shared(PAGE), LW), showMr);
  t.step('dealloc_pd', (k) => k.ibvDeallocPd(p));
  t.step('dereg_mr', (k) => k.ibvDeregMr(m.handle));
  t.step('dealloc_pd', (k) => k.ibvDeallocPd(p));
});

add('dealloc_pd with a QP is EBUSY, then works', needs, (t) => {
  const ctx = context(t);
  const c = cq(t, ctx);
  const p = t.must('alloc pd', (k) => k.ibvAllocPd(ctx), () => 'made');
  const q = qp(t, p, c);
  t.step('dealloc_pd', (k) => k.ibvDeallocPd(p));
  t.drop('qp', { handle: q });
  t.step('destroy qp', (k) => k.ibvDestroyQp(q));
  t.step('dealloc_pd', (k) => k.ibvDeallocPd(p));
});

add('destroy_cq while a QP uses it is EBUSY', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const c = cq(t, ctx);
  qp(t, p, c);
  t.step('destroy cq', (k) => k.ibvDestroyCq(c));
});

add('destroy_comp_channel while a CQ uses it is EBUSY', needs, (t) => {
  const ctx = context(t);
  const ch = t.own('channel', 'create channel', (k) => k.ibvCreateCompChannel(ctx), (c) => t.k.ibvDestroyCompChannel(c.handle));
  const c = t.must('create cq on it', (k) => k.ibvCreateCq(ctx, 16, ch.handle, wcWords(1)), () => 'made');
  t.step('destroy channel', (k) => k.ibvDestroyCompChannel(ch.handle));
  t.step('destroy cq', (k) => k.ibvDestroyCq(c));
});

add('create_cq of 0 or too many entries is EINVAL', needs, (t) => {
  const ctx = context(t);
  for (const cqe of [0, -1, 1 << 30]) t.step(`create cq of ${cqe}`, (k) => { const c = k.ibvCreateCq(ctx, cqe, -1, wcWords(1)); k.ibvDestroyCq(c); return 'made'; });
});

add('an empty CQ polls 0', needs, (t) => {
  const ctx = context(t);
  const c = cq(t, ctx);
  t.step('poll', (k) => k.ibvPollCq(c, 4));
});

add('posting on a QP in RESET is EINVAL at request 0', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const c = cq(t, ctx);
  const q = qp(t, p, c);
  const m = mr(t, p, shared(64), LW);
  post(t, 'post send', q, [{ opcode: 'SEND', id: 1n, local: { mr: m, length: 64 } }]);
});

add('a write posted before RTS is refused but stays queued: it runs first after RTS, at the next post', needs, async (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const c = cq(t, ctx);
  const qa = t.own('qp', 'create qp a', (k) => k.ibvCreateQp(p, qpInitOn(c)), (q) => t.k.ibvDestroyQp(q.handle));
  const qz = t.own('qp', 'create qp z', (k) => k.ibvCreateQp(p, qpInitOn(c)), (q) => t.k.ibvDestroyQp(q.handle));
  const src = shared(new Uint8Array(128).map((_, i) => (i * 5 + 1) & 0xff));
  const dst = shared(128);
  const l = mr(t, p, src, LW, 'reg_mr source');
  const d = mr(t, p, dst, LW | A.REMOTE_WRITE, 'reg_mr target');
  connect(t, ctx, qz.handle, 2, { qpNum: qa.qpNum, psn: 1 });
  post(t, 'post write 1 while a is in RESET', qa.handle, [{ opcode: 'RDMA_WRITE', id: 1n, local: { mr: l, length: 64 }, remote: { addr: d.addr, rkey: d.rkey } }]);
  connect(t, ctx, qa.handle, 1, { qpNum: qz.qpNum, psn: 2 });
  await completions(t, 'completions before another post', c, 1, 300);
  post(t, 'post write 2 in RTS', qa.handle, [{ opcode: 'RDMA_WRITE', id: 2n, local: { mr: l, offset: 64, length: 64 }, remote: { addr: d.addr + 64n, rkey: d.rkey } }]);
  await completions(t, 'completions', c, 2);
  t.note('target bytes', dst);
});

add('an RDMA write moves the bytes', needs, async (t) => {
  const r = rig(t);
  const src = shared(new Uint8Array(PAGE).map((_, i) => (i * 7) & 0xff));
  const dst = shared(PAGE);
  const l = mr(t, r.pd, src, LW, 'reg_mr source');
  const d = mr(t, r.pd, dst, LW | A.REMOTE_WRITE, 'reg_mr target');
  post(t, 'post write', r.a, [{ opcode: 'RDMA_WRITE', id: 1n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
  t.note('target bytes', dst);
});

add('an RDMA write into a udmabuf\'s memfd pages shows through the dma-buf', ['rxe', 'udmabuf'], async (t) => {
  const [buf, mem] = udmabuf(t, 1);
  const r = rig(t);
  const file = t.map('map the memfd', mem, PAGE, RW, uapi.MAP_SHARED);
  const dma = t.map('map the udmabuf', buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
  const src = shared(PAGE).fill(0xc3);
  const l = mr(t, r.pd, src, LW, 'reg_mr source');
  const d = mr(t, r.pd, file, LW | A.REMOTE_WRITE, 'reg_mr memfd pages');
  post(t, 'post write', r.a, [{ opcode: 'RDMA_WRITE', id: 1n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
  t.step('SYNC_START read', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_READ));
  t.note('dma-buf bytes', dma);
  t.step('SYNC_END read', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_READ));
});

add('an RDMA read fetches the bytes', needs, async (t) => {
  const r = rig(t);
  const mine = shared(PAGE);
  const theirs = shared(PAGE).fill(5);
  const l = mr(t, r.pd, mine, LW, 'reg_mr mine');
  const d = mr(t, r.pd, theirs, LW | A.REMOTE_READ, 'reg_mr theirs');
  post(t, 'post read', r.a, [{ opcode: 'RDMA_READ', id: 3n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
  t.note('bytes read', mine);
});

add('a send lands in a posted receive', needs, async (t) => {
  const r = rig(t);
  const out = shared(64).fill(0x42);
  const inbox = shared(128);
  const l = mr(t, r.pd, out, LW, 'reg_mr out');
  const i = mr(t, r.pd, inbox, LW, 'reg_mr inbox');
  postRecv(t, 'post recv', r.z, 10n, { mr: i, length: 128 });
  post(t, 'post send', r.a, [{ opcode: 'SEND', id: 4n, local: { mr: l, length: 64 } }]);
  await completions(t, 'completions', r.cq, 2);
  t.note('inbox', inbox);
});

add('write with immediate consumes a receive and delivers the immediate', needs, async (t) => {
  const r = rig(t);
  const local = shared(PAGE).fill(9);
  const remote = shared(PAGE);
  const l = mr(t, r.pd, local, LW, 'reg_mr local');
  const d = mr(t, r.pd, remote, LW | A.REMOTE_WRITE, 'reg_mr remote');
  postRecv(t, 'post recv', r.z, 77n);
  post(t, 'post write-imm', r.a, [{ opcode: 'RDMA_WRITE_WITH_IMM', id: 2n, imm: 0xefbeadde, local: { mr: l, length: 100 }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 2);
  t.note('remote bytes', remote);
});

add('a write with a deregistered rkey: remote access error (10), then flushed (5)', needs, async (t) => {
  const r = rig(t);
  const l = mr(t, r.pd, shared(PAGE), LW, 'reg_mr local');
  const d = mr(t, r.pd, shared(PAGE), LW | A.REMOTE_WRITE, 'reg_mr remote');
  deregMr(t, d, 'dereg the remote');
  post(t, 'post write', r.a, [{ opcode: 'RDMA_WRITE', id: 5n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
  post(t, 'post write again', r.a, [{ opcode: 'RDMA_WRITE', id: 6n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
});

add('a write into an MR without remote-write is a remote access error', needs, async (t) => {
  const r = rig(t);
  const l = mr(t, r.pd, shared(PAGE).fill(1), LW, 'reg_mr local');
  const target = shared(PAGE);
  const d = mr(t, r.pd, target, LW | A.REMOTE_READ, 'reg_mr remote-read only');
  post(t, 'post write', r.a, [{ opcode: 'RDMA_WRITE', id: 7n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
  t.note('target untouched', target.every((x) => x === 0));
});

add("a write with the rkey of another PD's MR is a remote access error: an rkey reaches only the QP's own PD", needs, async (t) => {
  const r = rig(t);
  const other = pd(t, r.ctx);
  const l = mr(t, r.pd, shared(PAGE).fill(1), LW, 'reg_mr local');
  const target = shared(PAGE);
  const d = mr(t, other, target, LW | A.REMOTE_WRITE, 'reg_mr remote-write in another PD');
  post(t, 'post write', r.a, [{ opcode: 'RDMA_WRITE', id: 14n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
  t.note('target untouched', target.every((x) => x === 0));
});

add('a read from an MR without remote-read is a remote access error', needs, async (t) => {
  const r = rig(t);
  const l = mr(t, r.pd, shared(PAGE), LW, 'reg_mr local');
  const d = mr(t, r.pd, shared(PAGE), LW | A.REMOTE_WRITE, 'reg_mr remote-write only');
  post(t, 'post read', r.a, [{ opcode: 'RDMA_READ', id: 8n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
});

add('a write past the end of the remote MR is a remote access error', needs, async (t) => {
  const r = rig(t);
  const l = mr(t, r.pd, shared(2 * PAGE), LW, 'reg_mr local');
  const d = mr(t, r.pd, shared(PAGE), LW | A.REMOTE_WRITE, 'reg_mr remote');
  post(t, 'post write of 2 pages', r.a, [{ opcode: 'RDMA_WRITE', id: 9n, local: { mr: l, length: 2 * PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
});

add('a write to a QP that does not allow remote writes is a remote access error', needs, async (t) => {
  const r = rig(t, A.REMOTE_READ);
  const l = mr(t, r.pd, shared(PAGE), LW, 'reg_mr local');
  const d = mr(t, r.pd, shared(PAGE), LW | A.REMOTE_WRITE, 'reg_mr remote');
  post(t, 'post write', r.a, [{ opcode: 'RDMA_WRITE', id: 11n, local: { mr: l, length: PAGE }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', r.cq, 1);
});

add('a batch of writes completes in order', needs, async (t) => {
  const r = rig(t);
  const src = shared(new Uint8Array(4 * 256).map((_, i) => i & 0xff));
  const dst = shared(4 * 256);
  const l = mr(t, r.pd, src, LW, 'reg_mr source');
  const d = mr(t, r.pd, dst, LW | A.REMOTE_WRITE, 'reg_mr target');
  post(t, 'post 4 writes', r.a, [0, 1, 2, 3].map((i) => ({
    opcode: 'RDMA_WRITE' as const, id: BigInt(20 + i), local: { mr: l, offset: i * 256, length: 256 }, remote: { addr: d.addr + BigInt(i * 256), rkey: d.rkey },
  })));
  await completions(t, 'completions', r.cq, 4);
  t.note('target bytes', dst);
});

add('reg_mr of a read-only mapping: EFAULT with local-write, fine without', needs, (t) => {
  const mem = memfd(t, 1, 0);
  const ctx = context(t);
  const p = pd(t, ctx);
  const view = t.map('map read-only', mem, PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
  t.step('reg_mr local-write', (k) => regMr(k, p, view, LW), showMr);
  mr(t, p, view, A.REMOTE_READ, 'reg_mr remote-read');
});

add('a zero-length write with a bad rkey succeeds: the responder skips the check', needs, async (t) => {
  const r = rig(t);
  const l = mr(t, r.pd, shared(PAGE), LW, 'reg_mr local');
  post(t, 'post a 0-byte write with rkey 0x1234', r.a, [{ opcode: 'RDMA_WRITE', id: 12n, local: { mr: l, length: 0 }, remote: { addr: 0n, rkey: 0x1234 } }]);
  await completions(t, 'completions', r.cq, 1);
});

add('a send from a bad lkey is a local protection error', needs, async (t) => {
  const r = rig(t);
  const l = mr(t, r.pd, shared(PAGE), LW, 'reg_mr local');
  const inbox = mr(t, r.pd, shared(PAGE), LW, 'reg_mr inbox');
  postRecv(t, 'post recv', r.z, 30n, { mr: inbox, length: PAGE });
  post(t, 'post send with lkey+1', r.a, [{ opcode: 'SEND', id: 13n, local: { mr: { ...l, lkey: (l.lkey + 0x100) >>> 0 }, length: 64 } }]);
  await completions(t, 'completions', r.cq, 1);
});

add('a QP goes INIT before RTR: straight to RTR is EINVAL', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const c = cq(t, ctx);
  const q = qp(t, p, c);
  t.step('RESET to RTS', (k) => k.ibvModifyQp(q, { qpState: 3 }, 1));
  t.step('RESET to RESET', (k) => k.ibvModifyQp(q, { qpState: 0 }, 1));
  t.step('to INIT without port and access', (k) => k.ibvModifyQp(q, { qpState: 1 }, 1));
});

add('post_recv on a QP in RESET is EINVAL', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const c = cq(t, ctx);
  const q = qp(t, p, c);
  postRecv(t, 'post recv', q, 1n);
});

add('create_qp asking more than the device has is EINVAL', needs, (t) => {
  const ctx = context(t);
  const p = pd(t, ctx);
  const c = cq(t, ctx);
  const attr = t.k.ibvQueryDevice(ctx);
  const init = { sendCq: c, recvCq: c, qpType: 2, sqSigAll: true, cap: { maxSendWr: attr.maxQpWr + 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } };
  t.step('create qp', (k) => { const q = k.ibvCreateQp(p, init); k.ibvDestroyQp(q.handle); return 'made'; });
  const sge = { ...init, cap: { ...init.cap, maxSendWr: 1, maxSendSge: attr.maxSge + 1 } };
  t.step('create qp with too many SGEs', (k) => { const q = k.ibvCreateQp(p, sge); k.ibvDestroyQp(q.handle); return 'made'; });
});

/**
 * A CQ on a completion channel, armed, with two connected QPs on it and one
 * RDMA WRITE completed: its event is on the channel. Returns the CQ, its
 * channel, the QPs and whether the event was taken (not yet acknowledged).
 */
async function cqWithEvent(t: Trial): Promise<{ c: number; ch: { handle: number }; qps: number[]; taken: boolean }> {
  const ctx = context(t);
  const p = pd(t, ctx);
  const ch = t.own('channel', 'create channel', (k) => k.ibvCreateCompChannel(ctx), (c) => t.k.ibvDestroyCompChannel(c.handle));
  const c = cq(t, ctx, 16, ch.handle, 'create cq on it');
  t.step('no event yet', (k) => k.ibvGetCqEvent(ch.handle) === c);
  t.step('arm', (k) => k.ibvReqNotifyCq(c, false));
  const qa = t.own('qp', 'create qp a', (k) => k.ibvCreateQp(p, { ...qpInitOn(c) }), (q) => t.k.ibvDestroyQp(q.handle));
  const qz = t.own('qp', 'create qp z', (k) => k.ibvCreateQp(p, { ...qpInitOn(c) }), (q) => t.k.ibvDestroyQp(q.handle));
  connect(t, ctx, qa.handle, 1, { qpNum: qz.qpNum, psn: 2 });
  connect(t, ctx, qz.handle, 2, { qpNum: qa.qpNum, psn: 1 });
  const l = mr(t, p, shared(64), LW, 'reg_mr local');
  const d = mr(t, p, shared(64), LW | A.REMOTE_WRITE, 'reg_mr remote');
  post(t, 'post write', qa.handle, [{ opcode: 'RDMA_WRITE', id: 40n, local: { mr: l, length: 64 }, remote: { addr: d.addr, rkey: d.rkey } }]);
  await completions(t, 'completions', c, 1);
  let got = -1;
  for (let i = 0; i < 2000 && got < 0; i++) {
    got = t.k.ibvGetCqEvent(ch.handle);
    if (got < 0) await new Promise((r) => setTimeout(r, 1));
  }
  t.note('event for the CQ', got === c);
  return { c, ch, qps: [qa.handle, qz.handle], taken: got === c };
}

add('a completion raises an event on an armed CQ\'s channel', needs, async (t) => {
  const { c, ch, taken } = await cqWithEvent(t);
  if (taken) t.step('ack', (k) => k.ibvAckCqEvents(c, 1));
  t.step('no second event', (k) => k.ibvGetCqEvent(ch.handle) === c);
});

// libibverbs waits in ibv_destroy_cq, once the kernel has destroyed the CQ,
// until every event taken is acknowledged: a refused destroy must not have
// spent the acknowledgements the program still owes.
add('destroy_cq refused while a QP uses it leaves its unacknowledged event to acknowledge', needs, async (t) => {
  const { c, qps, taken } = await cqWithEvent(t);
  if (!taken) return;
  t.step('destroy cq', (k) => k.ibvDestroyCq(c));
  t.step('ack', (k) => k.ibvAckCqEvents(c, 1));
  t.step('ack once more', (k) => k.ibvAckCqEvents(c, 1));
  t.step('poll', (k) => k.ibvPollCq(c, 1));
  t.step('arm again', (k) => k.ibvReqNotifyCq(c, false));
  for (const q of qps) {
    t.drop('qp', { handle: q });
    t.step('destroy qp', (k) => k.ibvDestroyQp(q));
  }
  t.drop('cq', c);
  t.step('destroy cq', (k) => k.ibvDestroyCq(c));
});

// RLIMIT_MEMLOCK binds only a process without CAP_IPC_LOCK, so these steps run in one.
const KiB = 1024n;

/** A page-aligned memfd mapping of `pages` pages, to register. */
function pagesOf(t: Trial, pages: number): Uint8Array {
  return t.map(`map ${pages} pages`, memfd(t, pages, 0), pages * PAGE, RW, uapi.MAP_SHARED);
}

const memlockCharges = child('rdma/memlock charges', (t) => {
  const { hard } = t.k.getMemlockLimit();
  t.must('limit 64 KiB', (k) => k.setMemlockLimit(64n * KiB, hard));
  const ctx = context(t);
  const p = pd(t, ctx);
  const small = mr(t, p, pagesOf(t, 4), LW, 'reg_mr 16 KiB');
  t.step('reg_mr 1 MiB', (k) => regMr(k, p, pagesOf(t, 256), LW), showMr);
  mr(t, p, pagesOf(t, 12), LW, 'reg_mr 48 KiB: 64 KiB in all');
  t.step('reg_mr one page more', (k) => regMr(k, p, pagesOf(t, 1), LW), showMr);
  deregMr(t, small, 'dereg the 16 KiB');
  mr(t, p, pagesOf(t, 4), LW, 'reg_mr 16 KiB again');
});

add('memlock: host-memory MRs are charged to RLIMIT_MEMLOCK, past it ENOMEM, and released on dereg', needs, async (t) => {
  await unprivileged(t, memlockCharges);
});

const memlockSpan = child('rdma/memlock counts pages spanned', (t) => {
  const { hard } = t.k.getMemlockLimit();
  t.must('limit 64 KiB', (k) => k.setMemlockLimit(64n * KiB, hard));
  const ctx = context(t);
  const p = pd(t, ctx);
  mr(t, p, pagesOf(t, 15), LW, 'reg_mr 15 pages');
  const two = pagesOf(t, 2);
  t.step('reg_mr one page\'s bytes across two pages', (k) => regMr(k, p, two.subarray(100, 100 + PAGE), LW), showMr);
  mr(t, p, two.subarray(0, PAGE), LW, 'reg_mr one page');
});

add('memlock: an MR is charged for every page it touches', needs, async (t) => {
  await unprivileged(t, memlockSpan);
});

const memlockZero = child('rdma/memlock of 0', (t) => {
  const { hard } = t.k.getMemlockLimit();
  t.must('limit 0', (k) => k.setMemlockLimit(0n, hard));
  const ctx = context(t);
  const p = pd(t, ctx);
  t.step('reg_mr a page', (k) => regMr(k, p, pagesOf(t, 1), LW), showMr);
});

add('memlock: a limit of 0 is EPERM, not ENOMEM', needs, async (t) => {
  await unprivileged(t, memlockZero);
});
