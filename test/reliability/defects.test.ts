// The defects issue 13 found on main, one test each: a failure leaves nothing
// behind, close() releases everything even when a part fails, every wait
// settles once its owner closes, and a wrong argument gets Node's own code.
import { afterEach, beforeEach, expect, it as plainIt } from 'vitest';
import { open, type DmaBridge } from '../../src';
import { DEVICES, describeEachBackend, itWith, openNetworked, openOn } from '../support/backends';

const coded = (code: string) => expect.objectContaining({ code });
/** What `fn` throws (undefined if nothing). */
const thrownBy = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
};

describeEachBackend('failures leave nothing behind', (b) => {
  const it = itWith(b, DEVICES.udmabuf);

  it('createUdmabuf(1000) fails with EINVAL and closes the memfd it made', () => {
    using dmb = openOn(b);
    dmb.createUdmabuf(4096).close(); // opens /dev/udmabuf, which the bridge keeps
    const before = dmb.seam.openFds();
    for (let i = 0; i < 100; i++) expect(() => dmb.createUdmabuf(1000)).toThrow(coded('EINVAL'));
    expect(dmb.seam.openFds()).toEqual(before);
  });

  it('a wait given a signal that is not an AbortSignal is refused, and leaves no watch or cancel hook', async () => {
    const dmb = openOn(b);
    const before = dmb.seam.openFds();
    const buf = dmb.createUdmabuf(4096);
    const sync = buf.exportSyncFile('rw');
    await expect(sync.wait({ signal: {} as AbortSignal })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/options\.signal/) });
    await expect(buf.waitIdle('read', { signal: {} as AbortSignal })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(() => dmb.close()).not.toThrow();
    expect(dmb.seam.openFds().filter((fd) => !before.includes(fd))).toEqual([]);
  });

  for (const [timeout, code] of [[Infinity, 'ERR_OUT_OF_RANGE'], [-1, 'ERR_OUT_OF_RANGE'], [NaN, 'ERR_OUT_OF_RANGE'], [2 ** 31, 'ERR_OUT_OF_RANGE'], [1.5, 'ERR_OUT_OF_RANGE'], ['soon', 'ERR_INVALID_ARG_TYPE']] as const) {
    it(`timeout: ${String(timeout)} is refused with ${code}, naming the range`, async () => {
      using dmb = openOn(b);
      using buf = dmb.createUdmabuf(4096);
      using sync = buf.exportSyncFile('rw');
      const err = await sync.wait({ timeout: timeout as number }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code, message: expect.stringMatching(/options\.timeout/) });
      if (code === 'ERR_OUT_OF_RANGE') expect((err as Error).message).toMatch(/>= 0 and <= 2147483647/);
    });
  }

  it('map() past the end names the offset and the size, not a negative length', () => {
    using dmb = openOn(b);
    using buf = dmb.createUdmabuf(4096);
    expect(() => buf.map('rw', { offset: 8192 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/"range\.offset".*<= 4096.*8192/) }));
  });
});

describeEachBackend('close() is exception-safe', (b) => {
  const it = itWith(b, DEVICES.vgem);

  it('a dumb buffer whose handle the program closed behind dmabridge: dmb.close() still closes the DRM node, and reports the failure', () => {
    const dmb = openOn(b);
    const before = dmb.seam.openFds();
    const dev = dmb.openDrm({ driver: 'vgem' });
    const dumb = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    using other = dmb.createMemfd(4096); // closed along with the rest
    dev.closeHandle(dumb.handle);
    const thrown = thrownBy(() => dmb.close());
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).toMatchObject({ code: expect.stringMatching(/^E[A-Z]+$/), syscall: expect.any(String) });
    expect(dev.closed && dumb.closed && other.closed && dmb.closed).toBe(true);
    expect(dmb.seam.openFds()).toEqual(before);
    expect(() => dmb.close()).not.toThrow(); // idempotent
  });

  it('several failures are reported together as an AggregateError of the system errors', () => {
    const dmb = openOn(b);
    const before = dmb.seam.openFds();
    const dev = dmb.openDrm({ driver: 'vgem' });
    const dumbs = [0, 1].map(() => dev.createDumb({ width: 16, height: 16, bpp: 32 }));
    for (const d of dumbs) dev.closeHandle(d.handle);
    const thrown = thrownBy(() => dmb.close());
    expect(thrown).toBeInstanceOf(AggregateError);
    const errors = (thrown as AggregateError).errors;
    expect(errors).toHaveLength(2);
    for (const e of errors) expect(e).toMatchObject({ code: expect.stringMatching(/^E[A-Z]+$/), syscall: 'DRM_IOCTL_MODE_DESTROY_DUMB' });
    expect(thrown).toMatchObject({ code: errors[0].code });
    expect(dmb.seam.openFds()).toEqual(before);
  });
});

describeEachBackend('every wait settles, and an error consumes nothing the kernel lets us retry', (b) => {
  const it = itWith(b, DEVICES.nic);
  let dmb: DmaBridge;
  let host: string;
  beforeEach(() => ({ dmb, host } = openNetworked(b)));
  afterEach(() => dmb.close());

  it('two listener.next() waiters both reject with ECANCELED when the listener closes', async () => {
    const listener = dmb.listenRdma({ host, port: 0 });
    const waits = [listener.next(), listener.next(), listener.next()].map((p) => p.then(() => 'resolved', (e: unknown) => e));
    listener.close();
    for (const w of await Promise.all(waits)) expect(w).toMatchObject({ code: 'ECANCELED' });
  });

  it('a resolve in flight rejects with ECANCELED when the bridge closes, at once', async () => {
    const nobody = `${host.split('.').slice(0, 3).join('.')}.77`; // on the subnet, never answers
    const resolving = dmb.resolveRdma({ host: nobody, port: 7471 }, { timeout: 60_000 }).then(() => 'resolved', (e: unknown) => e);
    await new Promise((done) => setTimeout(done, 20));
    const started = Date.now();
    dmb.close();
    expect(await resolving).toMatchObject({ code: 'ECANCELED' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('accept() with too much private data fails with EINVAL and leaves the request to accept again', async () => {
    using listener = dmb.listenRdma({ host, port: 0 });
    const client = dmb.connectRdma({ host, port: listener.address.port }, { timeout: 10_000 });
    using request = await listener.next({ timeout: 10_000 });
    await expect(request.accept({ privateData: new Uint8Array(197) })).rejects.toMatchObject({ code: 'EINVAL' });
    expect(request.closed).toBe(false);
    using conn = await request.accept({ privateData: new Uint8Array(196), timeout: 10_000 });
    using mine = await client;
    expect(conn.state).toBe('connected');
    expect(mine.state).toBe('connected');
  });
});

describeEachBackend('work requests are checked before they are posted', (b) => {
  const it = itWith(b, DEVICES.rxe);

  it('an id that is not a u64 is refused, not wrapped; a closed MR is refused, not posted', async () => {
    using dmb = openOn(b);
    using dev = dmb.openRdma('rxe0');
    using pd = dev.allocPd();
    using cq = dev.createCq(16);
    const a = pd.createQp(cq), z = pd.createQp(cq);
    a.connect(z.endpoint());
    z.connect(a.endpoint());
    const mr = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
    const dst = pd.register(new Uint8Array(new SharedArrayBuffer(64)), { access: ['local-write', 'remote-write'] });
    const write = (id: unknown, m = mr) => a.postSend([{ opcode: 'write', local: { mr: m }, remote: dst.remote(), id: id as bigint }]);
    expect(() => write(2n ** 70n + 5n)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/requests\[0\]\.id/) }));
    expect(() => write(-1n)).toThrow(coded('ERR_OUT_OF_RANGE'));
    expect(() => write(1)).toThrow(coded('ERR_INVALID_ARG_TYPE'));
    expect(() => z.postRecv([{ id: -1n }])).toThrow(coded('ERR_OUT_OF_RANGE'));
    const closed = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
    closed.close();
    expect(() => write(9n, closed)).toThrow(expect.objectContaining({ code: 'EBADF', message: expect.stringMatching(/MemoryRegion is closed/) }));
    write(2n ** 64n - 1n);
    expect(await cq.next({ timeout: 10_000 })).toMatchObject({ wrId: 2n ** 64n - 1n, status: 'success' });
    expect(cq.poll()).toEqual([]);
  });

  it('registering empty memory says the memory is empty, not that the access flags are wrong', () => {
    using dmb = openOn(b);
    using dev = dmb.openRdma('rxe0');
    using pd = dev.allocPd();
    const err = thrownBy(() => pd.register(new Uint8Array(new SharedArrayBuffer(0)))) as Error;
    expect(err).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/memory.*byteLength/) });
    expect(err!.message).not.toMatch(/access/);
  });
});

describeEachBackend('open() and the seam check their arguments', (b) => {
  const it = plainIt;
  it('open({ backend: "bogus" }) and open(null) are refused with codes', () => {
    expect(() => open({ backend: 'bogus' as 'auto' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/backend.*'auto', 'native', 'emulator'/) }));
    expect(() => open(null as never)).toThrow(coded('ERR_INVALID_ARG_TYPE'));
    expect(() => open(7 as never)).toThrow(coded('ERR_INVALID_ARG_TYPE'));
  });

  it('the seam\'s watch() refuses a callback that is not a function, or a bad mask, at once', () => {
    const kernel = b.create();
    const [s, t] = kernel.socketpair();
    try {
      expect(() => kernel.watch(s, 1, 'later' as never)).toThrow(TypeError);
      expect(() => kernel.watch(s, 'x' as never, () => {})).toThrow(TypeError);
      expect(() => kernel.watch(s, 2 ** 40, () => {})).toThrow(TypeError);
      expect(() => kernel.watch(1.5, 1, () => {})).toThrow(TypeError);
    } finally {
      kernel.close(s);
      kernel.close(t);
    }
  });
});
