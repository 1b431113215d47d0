// A dma-buf's reservation object and its four usages, as poll and
// EXPORT_SYNC_FILE read them (dma_resv_usage_rw): a reader waits for kernel
// and write fences, a writer for read fences too, and nobody for bookkeep
// ones. User space can add only read and write fences (IMPORT_SYNC_FILE);
// the test fences here (controls(backend).fences, sw_sync-like) add any.
// And the rule of seed 003: a fence must signal in bounded time; the machine
// warns about any fence still pending past its deadline.
import { afterEach, describe, expect, it } from 'vitest';
import type { FenceUsage } from '../../emulator';
import * as uapi from '../../seam/uapi';
import { Machine, machine } from '../support/emulator-rig';

const BOTH = uapi.POLLIN | uapi.POLLOUT;

describe('fences on a dma-buf, by usage', () => {
  let m: Machine;
  afterEach(() => m.dmb.close());

  // usage → [EPOLLIN ready, EPOLLOUT ready, in a READ export, in a WRITE export]
  const rules: Record<FenceUsage, [boolean, boolean, boolean, boolean]> = {
    kernel: [false, false, true, true],
    write: [false, false, true, true],
    read: [true, false, false, true],
    bookkeep: [true, true, false, false],
  };
  for (const [usage, expected] of Object.entries(rules) as Array<[FenceUsage, typeof rules.kernel]>) {
    const [inReady, outReady, inRead, inWrite] = expected;
    it(`a pending ${usage} fence: readers ${inReady ? 'need not' : 'must'} wait, writers ${outReady ? 'need not' : 'must'}; exports for ${[inRead && 'read', inWrite && 'write'].filter(Boolean).join(' and ') || 'neither'} hold it`, () => {
      m = machine();
      const { backend, hooks } = m;
      const buf = backend.dmaHeapAlloc(backend.open('/dev/dma_heap/system', uapi.O_RDWR), 4096n, uapi.O_RDWR, 0n);
      const fence = hooks.fences.timeline('test-gpu', 'ring0').fence();
      fence.attach(backend, buf, usage);
      const revents = backend.poll(buf, BOTH);
      expect([(revents & uapi.POLLIN) !== 0, (revents & uapi.POLLOUT) !== 0]).toEqual([inReady, outReady]);
      const holds = (flags: number) =>
        backend.syncFileInfo(backend.dmaBufExportSyncFile(buf, flags)).fences.some((f) => f.driverName === 'test-gpu');
      expect([holds(uapi.DMA_BUF_SYNC_READ), holds(uapi.DMA_BUF_SYNC_WRITE)]).toEqual([inRead, inWrite]);
      fence.signal();
      expect(backend.poll(buf, BOTH)).toBe(BOTH);
    });
  }

  it('lets SYNC START for reading pass a read fence, and holds it for a kernel fence (an exporter\'s move)', () => {
    m = machine({ manualClock: true });
    const { backend, hooks } = m;
    const buf = backend.dmaHeapAlloc(backend.open('/dev/dma_heap/system', uapi.O_RDWR), 4096n, uapi.O_RDWR, 0n);
    const timeline = hooks.fences.timeline('test-gpu', 'copy');
    const read = timeline.fence();
    read.attach(backend, buf, 'read');
    const t0 = hooks.clock.nowNs();
    backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_READ);
    expect(hooks.clock.nowNs()).toBe(t0);
    read.signal();
    timeline.fence().attach(backend, buf, 'kernel');
    // Nothing will signal the move: the SYNC would sleep for ever, the deadlock seed 003 is about,
    // and the watchdog warns while it sleeps.
    expect(() => backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_READ)).toThrow(/block forever/);
    expect(hooks.fences.warnings()).toMatchObject([{ driver: 'test-gpu', timeline: 'copy', seqno: 2n }]);
  });
});

describe('no indefinite fences (seed 003)', () => {
  let m: Machine;
  afterEach(() => m.dmb.close());

  it('records a warning, with driver, timeline and age, for a fence still pending past the deadline', () => {
    m = machine({ manualClock: true });
    const { backend, hooks } = m;
    const fence = hooks.fences.timeline('test-gpu', 'ring0').fence();
    fence.syncFile(backend);
    hooks.clock.advance(hooks.fences.deadlineMs);
    expect(hooks.fences.warnings()).toEqual([]);
    hooks.clock.advance(1);
    expect(hooks.fences.warnings()).toEqual([expect.objectContaining({
      driver: 'test-gpu', timeline: 'ring0', seqno: 1n, ageMs: 10_001, message: expect.stringMatching(/bounded time/),
    })]);
    // Signalling late does not take the warning back.
    fence.signal();
    expect(hooks.fences.warnings()).toHaveLength(1);
  });

  it('warns about nothing signalled in time, nor about vgem\'s fences, which force-signal at 10 s', () => {
    m = machine({ manualClock: true });
    const { backend, hooks } = m;
    hooks.fences.timeline('test-gpu', 'ring0').fence().signal(5);
    const drm = backend.open('/dev/dri/card0', uapi.O_RDWR);
    const { handle } = backend.drmCreateDumb(drm, 1024, 1, 32, 0);
    backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE);
    hooks.clock.advance(60_000);
    expect(hooks.fences.warnings()).toEqual([]);
  });

  it('takes its deadline from the machine\'s options', () => {
    m = machine({ manualClock: true, fenceDeadlineMs: 500 });
    const { hooks } = m;
    hooks.fences.timeline('test-gpu', 'ring0').fence();
    hooks.clock.advance(501);
    expect(hooks.fences.warnings()).toMatchObject([{ driver: 'test-gpu', ageMs: 501 }]);
  });
});
