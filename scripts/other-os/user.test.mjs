// A user's test on a laptop: dmabridge installed from its tarball, no addon,
// and the emulator as test double, through the public entries only. Plain
// JavaScript that Node 20 parses: close() where TypeScript would say `using`.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { open } from 'dmabridge';
import { controls, createEmulator } from 'dmabridge/emulator';

test(`open() picks the emulator on ${process.platform}, and says why`, (t) => {
  const dmb = open();
  t.after(() => dmb.close());
  assert.equal(dmb.backend, 'emulator');
  assert.match(dmb.reason, new RegExp(`needs Linux and this is ${process.platform}`));
  assert.throws(() => open({ backend: 'native' }), { code: 'ENOSYS' });
});

test('a udmabuf, mapped and written, RDMA-written to another buffer and read back', async (t) => {
  const dmb = open({ backend: 'emulator' });
  t.after(() => dmb.close());
  const src = dmb.createUdmabuf(1 << 16);
  const dst = dmb.createUdmabuf(1 << 16);
  const out = src.map('rw');
  const writing = out.begin('write');
  out.view.fill(0x5a);
  writing.end();
  const dev = dmb.openRdma('rxe0');
  const pd = dev.allocPd();
  const cq = dev.createCq(16);
  const a = pd.createQp(cq);
  const b = pd.createQp(cq);
  a.connect(b.endpoint());
  b.connect(a.endpoint());
  const from = pd.registerDmaBuf(src, { fallback: 'memfd-pages' });
  const to = pd.registerDmaBuf(dst, { fallback: 'memfd-pages', access: ['local-write', 'remote-write'] });
  a.postSend([{ opcode: 'write', local: { mr: from }, remote: to.remote(), id: 1n }]);
  assert.equal((await cq.next({ timeout: 1000 })).status, 'success');
  const back = dst.map('read');
  const reading = back.begin('read');
  assert.ok(back.view.every((byte) => byte === 0x5a));
  reading.end();
});

test("the emulator's controls: a machine of its own, its clock, its fds, a killed process", (t) => {
  const dmb = open({ backend: createEmulator({ manualClock: true }) });
  t.after(() => dmb.close());
  const hooks = controls(dmb);
  const t0 = hooks.clock.nowNs();
  hooks.clock.advance(250);
  assert.equal(hooks.clock.nowNs() - t0, 250_000_000n);
  const peer = open({ backend: hooks.spawn() });
  const buf = peer.createUdmabuf(4096);
  assert.ok(hooks.openFds(peer).some((f) => f.fd === buf.fd));
  hooks.kill(peer);
  assert.deepEqual(hooks.openFds(peer), []);
});

test('require() sees the same module as import', () => {
  const require = createRequire(import.meta.url);
  assert.equal(require('dmabridge/emulator').controls, controls);
  assert.equal(require('dmabridge').open, open);
});
