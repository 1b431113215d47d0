// MemoryRegion.prefetch (ibv_advise_mr) on rxe: on Linux 7.3 it faults an
// on-demand MR's pages in before any RDMA, pinning nothing; 6.12 registers no
// on-demand MR and its rxe has no prefetch. Natively the pages show as the
// memfd's allocated blocks and VmPin; the emulator shows the MR's mirror and
// its process's pinned bytes.
import { fstatSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect } from 'vitest';
import { controls, createEmulator } from '../../emulator';
import { BEHAVIOUR } from '../../emulator/kernels';
import type { DmaBridge } from '../../src';
import type { Memfd } from '../../src/memfd';
import type { MemoryRegion } from '../../src/verbs/mr';
import type { ProtectionDomain } from '../../src/verbs/pd';
import type { QueuePair } from '../../src/verbs/qp';
import type { CompletionQueue } from '../../src/verbs/cq';
import { loopbackPair } from '../../src/verbs/loopback';
import { DEVICES, describeEachBackend, itWith, openOn, type BackendCase } from '../support/backends';
import { expectErrno } from '../support/errno';

const PAGE = 4096;
const ODP = ['local-write', 'remote-write', 'on-demand'] as const;

function vmPinBytes(): number {
  return Number(/^VmPin:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
}

function prefetchSuite(b: BackendCase): void {
  const it = itWith(b, DEVICES.rxe);
  let dmb: DmaBridge;
  let pd: ProtectionDomain;
  let cq: CompletionQueue;
  let a: QueuePair;

  beforeEach(() => {
    dmb = openOn(b);
    const dev = dmb.openRdma('rxe0');
    pd = dev.allocPd();
    cq = dev.createCq(16);
    ({ qp: a } = loopbackPair(pd, cq));
  });
  afterEach(() => dmb.close());

  /** The memfd's pages the kernel holds (the MR's, on the emulator, which allocates eagerly) and the bytes this process pins. */
  function seen(memfd: Memfd, mr: MemoryRegion): { pages: number; pinned: number } {
    if (b.name === 'native') return { pages: (fstatSync(memfd.fd).blocks * 512) / PAGE, pinned: vmPinBytes() };
    const c = controls(dmb);
    return { pages: c.rdma.device('rxe0').mr(mr.lkey).odp!.present, pinned: c.pinnedBytes(dmb) };
  }

  it('faults an on-demand MR\'s fresh pages in before any RDMA, pinning nothing; RDMA into them then works (7.3), while 6.12 registers none', async () => {
    using memfd = dmb.createMemfd(4 * PAGE);
    using mapping = memfd.map('rw');
    const register = () => pd.register(mapping, { access: [...ODP] });
    if (!b.behaviour.rxeAdviseMr) {
      expect(register).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'ibv_reg_mr', message: expect.stringMatching(/rxe has it on Linux 7\.3/) }));
      return;
    }
    const mr = register();
    expect(seen(memfd, mr)).toEqual({ pages: 0, pinned: 0 });
    mr.prefetch();
    expect(seen(memfd, mr)).toEqual({ pages: 4, pinned: 0 });
    // rxe's 4096-byte MTU on lo: a page-aligned write lands whole (README, Two kernels).
    const bytes = new Uint8Array(new SharedArrayBuffer(4 * PAGE));
    bytes.set(new Uint8Array(4 * PAGE).map((_, i) => (i * 5) & 0xff));
    a.postSend([{ opcode: 'write', local: { mr: pd.register(bytes) }, remote: mr.remote(), id: 1n }]);
    expect(await cq.next({ timeout: 10000 })).toMatchObject({ wrId: 1n, status: 'success' });
    expect(Buffer.compare(mapping.view, bytes)).toBe(0);
  });

  it('refuses bad options with Node\'s codes, and a pinned MR before the kernel', () => {
    const pinned = pd.register(new Uint8Array(new SharedArrayBuffer(2 * PAGE)), { access: ['local-write'] });
    expect(() => pinned.prefetch({ offset: 2 * PAGE })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => pinned.prefetch({ offset: PAGE, length: PAGE + 1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => pinned.prefetch({ length: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => pinned.prefetch({ offset: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => pinned.prefetch({ length: '1' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => pinned.prefetch({ advice: 'prefetch-all' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => pinned.prefetch({ flush: 1 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => pinned.prefetch(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => pinned.prefetch()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    pinned.close();
    expect(() => pinned.prefetch()).toThrow(expect.objectContaining({ code: 'EBADF', message: expect.stringMatching(/closed/) }));
  });

  it('where rxe has no prefetch (6.12) the kernel answers EOPNOTSUPP, with advice naming Linux 7.3; on 7.3 a key naming no MR is EINVAL', () => {
    const advise = () => dmb.seam.ibvAdviseMr(pd.handle, 0, 1, 0x12345600, 0x10000n, PAGE);
    const e = expectErrno(advise, b.behaviour.rxeAdviseMr ? 'EINVAL' : 'EOPNOTSUPP', 'ibv_advise_mr');
    expect(e.message).toMatch(b.behaviour.rxeAdviseMr ? /registered on demand in this PD/ : /rxe has it on Linux 7\.3, not on 6\.12/);
  });
}

describeEachBackend('MemoryRegion.prefetch on rxe', prefetchSuite);

describe('MemoryRegion.prefetch on rxe [emulator: Linux 7.3]', () => {
  prefetchSuite({ name: 'emulator', create: () => createEmulator({ kernel: '7.3' }), behaviour: BEHAVIOUR['7.3'] });
});
