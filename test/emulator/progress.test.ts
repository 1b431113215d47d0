// The emulated devices make progress while a program polls, as rxe and the
// kernel's timers do: a busy-polling loop ends with no turn of the event loop
// (once the device's latency, 50 µs, has passed: emulator/work.ts).
import { describe, expect, it } from 'vitest';
import { loopback, machine, pattern } from '../support/emulator-rig';

/** Calls `poll` until it gives something, at most `tries` times, all in one turn of the event loop. */
function busyPoll<T>(poll: () => T | undefined, tries: number): { value: T | undefined; tries: number } {
  for (let i = 1; i <= tries; i++) {
    const value = poll();
    if (value !== undefined) return { value, tries: i };
  }
  return { value: undefined, tries };
}

describe('progress when polled', () => {
  it('a posted write completes for a busy-polling cq.poll(1), and the bytes are there', () => {
    const { dmb } = machine();
    const lo = loopback(dmb, 'rxe0');
    const target = new Uint8Array(new SharedArrayBuffer(4096));
    const dst = lo.pd.register(target, { access: ['local-write', 'remote-write'] });
    const src = lo.pd.register(pattern(4096, 3));
    lo.qp.postSend([{ opcode: 'write', local: { mr: src }, remote: dst.remote(), id: 7n }]);
    const { value } = busyPoll(() => lo.cq.poll(1)[0], 1e6);
    expect(value).toMatchObject({ wrId: 7n, status: 'success', opcode: 'rdma-write' });
    expect(target).toEqual(pattern(4096, 3));
    dmb.close();
  });

  it('a chain of sends meets receives posted later, all inside one loop, on a manual clock', () => {
    const { dmb } = machine({ manualClock: true });
    const lo = loopback(dmb, 'rxe0');
    const inbox = new Uint8Array(new SharedArrayBuffer(64));
    const recv = lo.pd.register(inbox, { access: ['local-write'] });
    const out = lo.pd.register(pattern(64, 9));
    lo.peer.postRecv([{ local: { mr: recv }, id: 1n }]);
    lo.qp.postSend([{ opcode: 'send', local: { mr: out }, id: 2n }]);
    const seen: bigint[] = [];
    busyPoll(() => {
      seen.push(...lo.cq.poll(4).map((wc) => wc.wrId));
      return seen.length === 2 ? true : undefined;
    }, 1e6);
    expect(seen.sort()).toEqual([1n, 2n]);
    expect(inbox).toEqual(pattern(64, 9));
    dmb.close();
  });

  it('a manual clock still moves only when the test advances it: a retry timer waits for advance()', () => {
    const { dmb, hooks } = machine({ manualClock: true });
    const pd = dmb.openRdma('rxe0').allocPd();
    const cq = pd.device.createCq(8);
    const a = pd.createQp(cq), b = pd.createQp(cq);
    a.connect(b.endpoint(), { retryCount: 1 });
    b.connect(a.endpoint());
    const dst = pd.register(new Uint8Array(new SharedArrayBuffer(64)), { access: ['local-write', 'remote-write'] });
    const src = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
    hooks.rdma.device('rxe0').setPortState('down');
    a.postSend([{ opcode: 'write', local: { mr: src }, remote: dst.remote(), id: 3n }]);
    expect(busyPoll(() => cq.poll(1)[0], 1000).value).toBeUndefined();
    // Each advance fires the retry that fell due; the second retry fails the request.
    hooks.clock.advance(100);
    expect(cq.poll(1)).toEqual([]);
    hooks.clock.advance(100);
    expect(cq.poll(1)[0]).toMatchObject({ wrId: 3n, status: 'retry-exceeded-error' });
    dmb.close();
  });

  it("a sync_file and a dma-buf polled in a loop see vgem's fence force-signalled when its time comes", () => {
    const { dmb, hooks } = machine();
    using dev = dmb.openDrm({ driver: 'vgem' });
    using dumb = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    using shared = dumb.export();
    dumb.attachFence('write');
    using sync = shared.exportSyncFile('read');
    // To 5 ms short of vgem's 10 s, then real time runs out while the loop polls.
    hooks.clock.advance(10_000 - 5);
    const start = Date.now();
    const { value } = busyPoll(() => (sync.signaled ? true : undefined), 1e7);
    expect(value).toBe(true);
    expect(shared.idle('read')).toBe(true);
    expect(Date.now() - start).toBeLessThan(5000);
    dmb.close();
  });
});
