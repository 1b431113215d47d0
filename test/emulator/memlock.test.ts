// RLIMIT_MEMLOCK as ib_umem_get charges it: each host-memory MR adds the
// pages it touches to the process's pinned_vm, even pages another MR already
// pinned, and past the soft limit the registration fails with ENOMEM. A
// dma-buf MR pins nothing of the process's (the exporter owns the memory)
// and an on-demand MR pins nothing at all, so neither is charged. The
// emulated process is an ordinary user's, without CAP_IPC_LOCK.
import { afterEach, describe, expect, it } from 'vitest';
import { KiB, TestMachine, machine, MiB, PAGE } from '../support/emulator-rig';
import { errorOf } from '../support/errno';
import { regMr } from '../../seam/mr-words';

describe('RLIMIT_MEMLOCK', () => {
  let m: TestMachine;
  afterEach(() => m.dmb.close());

  function limitTo(bytes: bigint): void {
    const k = m.dmb.seam;
    k.setMemlockLimit(bytes, k.getMemlockLimit().hard);
  }

  it('charges a host-memory MR the pages it touches, and fails the one that would pass the limit with ENOMEM', () => {
    m = machine();
    limitTo(2n * BigInt(PAGE));
    const pd = m.dmb.openRdma('rxe0').allocPd();
    const memory = new Uint8Array(new SharedArrayBuffer(4 * PAGE));
    // Two bytes across a page boundary are two pages.
    const straddling = pd.register(memory.subarray(PAGE - 1, PAGE + 1));
    expect(errorOf(() => pd.register(memory.subarray(3 * PAGE, 3 * PAGE + 1)))).toMatchObject({ code: 'ENOMEM', syscall: 'ibv_reg_mr' });
    straddling.close();
    pd.register(memory.subarray(0, 2 * PAGE)).close();
  });

  it('charges pages again for each MR over them', () => {
    m = machine();
    limitTo(2n * BigInt(PAGE));
    const pd = m.dmb.openRdma('rxe0').allocPd();
    const page = new Uint8Array(new SharedArrayBuffer(PAGE));
    const held = [pd.register(page), pd.register(page)];
    expect(errorOf(() => pd.register(page)).code).toBe('ENOMEM');
    expect(held.map((mr) => mr.closed)).toEqual([false, false]);
  });

  it('charges neither dma-buf MRs nor on-demand MRs', () => {
    m = machine();
    limitTo(BigInt(PAGE));
    const { dmb } = m;
    using udmabuf = dmb.createUdmabuf(1 * MiB);
    const held = ['mlx5_0', 'efa_0'].map((name) => dmb.openRdma(name).allocPd().registerDmaBuf(udmabuf));
    const pd = dmb.openRdma('mlx5_0').allocPd();
    held.push(pd.register(new Uint8Array(new SharedArrayBuffer(1 * MiB)), { access: ['local-write', 'on-demand'] }));
    held.push(pd.register(new Uint8Array(new SharedArrayBuffer(PAGE))));
    expect(errorOf(() => pd.register(new Uint8Array(new SharedArrayBuffer(PAGE)))).code).toBe('ENOMEM');
    expect(held.every((mr) => !mr.closed)).toBe(true);
  });

  it('forbids pinning at all at a limit of 0 (EPERM), whatever the size', () => {
    m = machine();
    limitTo(0n);
    const pd = m.dmb.openRdma('rxe0').allocPd();
    expect(errorOf(() => pd.register(new Uint8Array(new SharedArrayBuffer(1))))).toMatchObject({ code: 'EPERM', syscall: 'ibv_reg_mr' });
  });

  it('is a setting of each process: another keeps its own limit and its own count', () => {
    m = machine();
    limitTo(BigInt(PAGE));
    const other = m.hooks.spawn();
    expect(other.getMemlockLimit()).toEqual({ soft: 8192n * BigInt(KiB), hard: 8192n * BigInt(KiB) });
    m.dmb.openRdma('rxe0').allocPd().register(new Uint8Array(new SharedArrayBuffer(PAGE)));
    const ctx = other.ibvOpenDevice('rxe0');
    const pd = other.ibvAllocPd(ctx);
    other.ibvDeregMr(regMr(other, pd, new Uint8Array(new SharedArrayBuffer(64 * KiB)), 1).handle);
  });
});
