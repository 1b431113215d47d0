// Remote access that can be taken back: after revokeRemote() or close(), a
// peer's access with the old rkey fails with a remote access error, and no
// later MR of the PD takes that key. Loopback QPs on rxe0 (the VM) or the
// emulator's rxe.
import { afterEach, beforeEach, expect } from 'vitest';
import type { DmaBridge } from '../../src';
import type { CompletionQueue } from '../../src/verbs/cq';
import type { MemoryRegion, RemoteBuffer } from '../../src/verbs/mr';
import { setBudget, type ProtectionDomain } from '../../src/verbs/pd';
import { loopbackPair } from '../../src/verbs/loopback';
import type { Backend } from '../../seam/backend';
import { decodeMr, encodeMr } from '../../seam/mr-words';
import { PinBudget } from '../../src/verbs/pin-budget';
import { bridgeOn, collectGarbage, DEVICES, describeEachBackend, itWith, openOn } from '../support/backends';

const TIMEOUT = 10_000;
const REMOTE = ['local-write', 'remote-write', 'remote-read'] as const;

describeEachBackend('remote access that can be taken back', (b) => {
  const it = itWith(b, DEVICES.rxe);
  let dmb: DmaBridge;
  let pd: ProtectionDomain;
  let cq: CompletionQueue;
  let memory: Uint8Array;
  let source: MemoryRegion;

  beforeEach(() => {
    dmb = openOn(b);
    pd = dmb.openRdma('rxe0').allocPd();
    cq = pd.device.createCq(16);
    memory = new Uint8Array(new SharedArrayBuffer(64));
    source = pd.register(new Uint8Array(new SharedArrayBuffer(64)).fill(0x5a));
  });
  afterEach(() => dmb.close());

  /** An RDMA WRITE to `remote` from a fresh pair (an access error leaves a QP in error); its completion status. */
  async function writeTo(remote: RemoteBuffer): Promise<string> {
    const { qp, peer } = loopbackPair(pd, cq);
    try {
      qp.postSend([{ opcode: 'write', local: { mr: source }, remote, id: 1n }]);
      return (await cq.next({ timeout: TIMEOUT })).status;
    } finally {
      qp.close();
      peer.close();
    }
  }

  it('revokeRemote(): the old rkey fails with a remote access error, the MR still works locally, and its access says so', async () => {
    const mr = pd.register(memory, { access: [...REMOTE] });
    const granted = mr.remote();
    expect(await writeTo(granted)).toBe('success');
    expect(memory[0]).toBe(0x5a);
    memory.fill(0);
    mr.revokeRemote();
    expect(mr.access).toEqual(['local-write']);
    expect(mr.rkey).not.toBe(granted.rkey);
    expect(await writeTo(granted)).toBe('remote-access-error');
    // Nor does the new key grant anything: the MR has no remote flags now.
    expect(await writeTo(mr.remote())).toBe('remote-access-error');
    expect(memory.every((x) => x === 0)).toBe(true);
    // Local use goes on: a SEND received into it.
    const { qp, peer } = loopbackPair(pd, cq);
    peer.postRecv([{ local: { mr }, id: 2n }]);
    qp.postSend([{ opcode: 'send', local: { mr: source }, id: 3n }]);
    const done = [await cq.next({ timeout: TIMEOUT }), await cq.next({ timeout: TIMEOUT })];
    expect(done.map((c) => c.status)).toEqual(['success', 'success']);
    expect(memory[63]).toBe(0x5a);
    mr.revokeRemote();
    expect(mr.access).toEqual(['local-write']);
  });

  it('denies 100 % of 1000 accesses with stale rkeys, closed or revoked, interleaved with new registrations of the same memory', async () => {
    const TRIES = 1000;
    const live: MemoryRegion[] = [];
    const stale = new Set<number>();
    let denied = 0;
    for (let i = 0; i < TRIES; i++) {
      // A new registration of the same memory, with remote access: a reused key would reach it.
      const mr = pd.register(memory, { access: [...REMOTE] });
      expect(stale.has(mr.rkey)).toBe(false);
      const granted = mr.remote();
      live.push(pd.register(memory, { access: [...REMOTE] }));
      if (live.length > 8) live.shift()!.close();
      if (i % 2) mr.revokeRemote();
      else mr.close();
      stale.add(granted.rkey);
      for (const held of live) expect(stale.has(held.rkey)).toBe(false);
      if ((await writeTo(granted)) === 'remote-access-error') denied++;
      if (i % 2) mr.close();
    }
    expect(denied).toBe(TRIES);
    expect(memory.every((x) => x === 0)).toBe(true);
    // The live ones still grant access: the denials were the keys', not the QPs'.
    expect(await writeTo(live.at(-1)!.remote())).toBe('success');
  }, 600_000);

  it('an MR dropped unclosed, revoked or not, is deregistered by its finalizer, and gives its bytes back', async () => {
    const budget = new PinBudget(1n << 20n);
    setBudget(pd, budget);
    (() => pd.register(memory, { access: [...REMOTE] }).revokeRemote())();
    (() => pd.register(memory, { access: [...REMOTE] }))();
    expect(budget.used).toBe(128n);
    await collectGarbage(true);
    expect(budget.used).toBe(0n);
  });

  it('where the driver hands out a retired key again, the MR is registered again; 16 times running fails with EAGAIN and leaves nothing registered', () => {
    // rxe's keys come round only after 2^19 registrations: a seam that says
    // the driver gave back a retired key, the next `reuse` times, stands in.
    let key = 0;
    let reuse = 0;
    let calls = 0;
    const seam = b.create();
    const reusing = withRegMr(seam, (pd, view, access, out) => {
      const handle = seam.ibvRegMr(pd, view, access, out);
      calls++;
      if (reuse-- > 0) encodeMr(out, { ...decodeMr(handle, out), lkey: key, rkey: key });
      return handle;
    });
    using bridge = bridgeOn(reusing, 'a driver that reuses keys');
    const domain = bridge.openRdma('rxe0').allocPd();
    const retired = domain.register(memory, { access: [...REMOTE] });
    key = retired.rkey;
    retired.close();
    reuse = 1;
    calls = 0;
    const fresh = domain.register(memory, { access: [...REMOTE] });
    expect(calls).toBe(2);
    expect(fresh.rkey).not.toBe(key);
    fresh.close();
    reuse = 16;
    expect(() => domain.register(memory, { access: [...REMOTE] })).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'ibv_reg_mr' }));
    // The PD deallocates (EBUSY otherwise): the refused registrations left no MR in it.
    domain.close();
  });
});

/** The backend with its ibv_reg_mr replaced (a plain object: the native backend's own properties are frozen). */
function withRegMr(seam: Backend, regMr: Backend['ibvRegMr']): Backend {
  const out: Record<string, unknown> = {};
  for (let o: object | null = seam; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === 'constructor' || name in out) continue;
      const value = (seam as unknown as Record<string, unknown>)[name];
      out[name] = typeof value === 'function' ? value.bind(seam) : value;
    }
  }
  out.ibvRegMr = regMr;
  return out as unknown as Backend;
}
