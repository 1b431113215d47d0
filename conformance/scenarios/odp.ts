// On-demand paging on rxe: 7.3's rxe registers MRs whose pages fault in at
// first access, charge nothing to RLIMIT_MEMLOCK and follow the process's
// mappings; 6.12's rxe refuses the access flag (EOPNOTSUPP).
import * as uapi from '../../seam/uapi';
import { child, unprivileged } from '../children';
import { memfd, PAGE, RW } from '../fixtures';
import { A, completions, context, mr, pd, post, rig, shared } from '../rdma';
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

// One packet (the rig's 1024-byte path MTU) at the start of each page: on
// 7.3.4, of a write of several packets into an on-demand MR only the packets
// that start a page land (README, Two kernels), which the emulator does not
// imitate.
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
