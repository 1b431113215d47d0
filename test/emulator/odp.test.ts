// On-demand paging (seeds 002 and 004): an ODP MR's device page table
// mirrors the process's, page by page. Pages fault in on first access; a
// change to the process's mapping invalidates just those pages and bumps the
// MR's notifier sequence, and a fault that the sequence moved under runs
// again. Counters are in pages, as mlx5's page_faults, page_invalidations and
// page_prefetch are.
import { afterEach, describe, expect, it } from 'vitest';
import type { MemoryRegion } from '../../src/verbs/mr';
import { Loopback, loopback, TestMachine, machine, PAGE, pattern } from '../support/emulator-rig';
import { errorOf } from '../support/errno';

const ODP = ['local-write', 'remote-write', 'remote-read', 'on-demand'] as const;

describe('on-demand MRs mirror process memory', () => {
  let m: TestMachine;
  let rdma: Loopback;
  let memory: Uint8Array;
  let mr: MemoryRegion;
  const odp = () => m.hooks.rdma.device('mlx5_0').mr(mr.lkey).odp!;

  function start(): void {
    m = machine();
    rdma = loopback(m.dmb, 'mlx5_0');
    memory = new Uint8Array(new SharedArrayBuffer(16 * PAGE));
    mr = rdma.pd.register(memory, { access: [...ODP] });
  }
  afterEach(() => m.dmb.close());

  it('are refused where the device has no ODP: rxe in 6.12 and efa answer EOPNOTSUPP', () => {
    start();
    for (const name of ['rxe0', 'efa_0']) {
      const pd = m.dmb.openRdma(name).allocPd();
      expect(errorOf(() => pd.register(new Uint8Array(new SharedArrayBuffer(PAGE)), { access: ['local-write', 'on-demand'] }))).toMatchObject({ code: 'EOPNOTSUPP', syscall: 'ibv_reg_mr' });
    }
  });

  it('pins nothing at registration: no page is present and none is charged to RLIMIT_MEMLOCK', () => {
    m = machine();
    m.dmb.seam.setMemlockLimit(4096n, m.dmb.seam.getMemlockLimit().hard);
    const pd = m.dmb.openRdma('mlx5_0').allocPd();
    const big = pd.register(new Uint8Array(new SharedArrayBuffer(1024 * PAGE)), { access: ['local-write', 'on-demand'] });
    expect(m.hooks.rdma.device('mlx5_0').mr(big.lkey)).toMatchObject({ via: 'on-demand', odp: { pages: 1024, present: 0, faults: 0 } });
    pd.register(new Uint8Array(new SharedArrayBuffer(PAGE))).close();
  });

  it('faults pages in on first access, only the pages touched, and not again while they stay', async () => {
    start();
    expect(await rdma.write(mr, 3 * PAGE + 100, pattern(PAGE, 1))).toMatchObject({ status: 'success' });
    expect(odp()).toMatchObject({ present: 2, faults: 2 });
    expect(memory.subarray(3 * PAGE + 100, 4 * PAGE + 100)).toEqual(pattern(PAGE, 1));
    await rdma.read(mr, 3 * PAGE, 2 * PAGE);
    expect(odp()).toMatchObject({ present: 2, faults: 2 });
  });

  it('invalidates page by page when the process\'s mapping changes, and faults those pages back on the next access', async () => {
    start();
    await rdma.read(mr, 0, 4 * PAGE);
    const seq = odp().seq;
    m.hooks.mm.invalidate(memory.subarray(PAGE, 2 * PAGE));
    expect(odp()).toMatchObject({ present: 3, invalidations: 1, seq: seq + 1 });
    memory.set(pattern(PAGE, 2), PAGE);
    const { bytes } = await rdma.read(mr, 0, 4 * PAGE);
    expect(bytes.subarray(PAGE, 2 * PAGE)).toEqual(pattern(PAGE, 2));
    expect(odp()).toMatchObject({ present: 4, faults: 5 });
    // Outside the MR, nothing happens to it.
    const other = new Uint8Array(memory.buffer, 0, 0);
    m.hooks.mm.invalidate(other);
    expect(odp().seq).toBe(seq + 1);
  });

  it('retries a fault that an invalidation raced, even one that hit other pages of the MR', async () => {
    start();
    m.hooks.mm.raceNextFault(memory.subarray(10 * PAGE, 11 * PAGE));
    expect(await rdma.write(mr, 0, pattern(64, 3))).toMatchObject({ status: 'success' });
    expect(odp()).toMatchObject({ present: 1, faults: 1, retries: 1 });
  });

  it('fails RDMA to a page the process unmapped with remote-access-error; after a remap it sees the fresh zeroed page', async () => {
    start();
    memory.fill(0x77);
    await rdma.read(mr, 0, 16 * PAGE);
    m.hooks.mm.unmap(memory.subarray(5 * PAGE, 6 * PAGE));
    expect(odp()).toMatchObject({ present: 15, invalidations: 1 });
    expect((await rdma.read(mr, 5 * PAGE, 64)).wc).toMatchObject({ status: 'remote-access-error', statusCode: 10 });
    m.dmb.close();

    start();
    memory.fill(0x77);
    await rdma.read(mr, 0, 16 * PAGE);
    m.hooks.mm.unmap(memory.subarray(5 * PAGE, 6 * PAGE));
    m.hooks.mm.remap(memory.subarray(5 * PAGE, 6 * PAGE));
    const { wc, bytes } = await rdma.read(mr, 5 * PAGE - 32, 64);
    expect(wc).toMatchObject({ status: 'success' });
    expect([...bytes.subarray(0, 32)].every((b) => b === 0x77) && [...bytes.subarray(32)].every((b) => b === 0)).toBe(true);
  });

  it('prefetches pages ahead of access (ibv_advise_mr), counted apart from faults; EFAULT on unmapped pages; pinned MRs refused', async () => {
    start();
    mr.prefetch({ offset: 2 * PAGE, length: 3 * PAGE });
    expect(odp()).toMatchObject({ present: 3, prefetched: 3, faults: 0 });
    await rdma.write(mr, 2 * PAGE, pattern(3 * PAGE, 4));
    expect(odp()).toMatchObject({ faults: 0 });
    const pinned = rdma.pd.register(new Uint8Array(new SharedArrayBuffer(PAGE)));
    expect(() => pinned.prefetch()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    expect(errorOf(() => m.dmb.seam.ibvAdviseMr(rdma.pd.handle, 0, 1, pinned.lkey, pinned.addr, 64))).toMatchObject({ code: 'EINVAL', syscall: 'ibv_advise_mr' });
    // mlx5's get_prefetchable_mr finds no MR for a stale key.
    expect(errorOf(() => m.dmb.seam.ibvAdviseMr(rdma.pd.handle, 0, 1, mr.lkey ^ 1, mr.addr, 64))).toMatchObject({ code: 'ENOENT', syscall: 'ibv_advise_mr' });
    m.hooks.mm.unmap(memory.subarray(8 * PAGE, 9 * PAGE));
    expect(errorOf(() => mr.prefetch({ offset: 8 * PAGE, length: 64 }))).toMatchObject({ code: 'EFAULT', syscall: 'ibv_advise_mr' });
  });
});
