// The emulator's RDMA devices: what each profile answers where the drivers
// differ (dma-buf MRs, access flags, receive errors), and the kernel's rules
// they share (keys, memlock, EBUSY, timeouts), through the public API and the
// seam.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controls, createEmulator, EmulatorOptions } from '../../emulator';
import type { Backend } from '../../seam/backend';
import type { IbvMr } from '../../seam/backend-verbs';
import { post } from '../../conformance/rdma';
import type { Trial } from '../../conformance/trial';
import { compChannelOf, type CompletionQueue } from '../../src/verbs/cq';
import type { RdmaDevice } from '../../src/verbs/device';
import type { ProtectionDomain } from '../../src/verbs/pd';
import type { QueuePair } from '../../src/verbs/qp';
import type { DmaBridge } from '../../src/dmabridge';
import * as uapi from '../../seam/uapi';
import { CLOSED_FD, turns } from '../support/seam-session';
import { bridgeOn } from '../support/backends';
import { errorOf } from '../support/errno';
import { wcWords } from '../../seam/work-requests';
import { loopbackPair } from '../../src/verbs/loopback';
import { regDmabufMr, regMr } from '../../seam/mr-words';

const KiB = 1024;
const A = { lw: 1, rw: 2, rr: 4, ra: 8, mwBind: 16, zeroBased: 32, onDemand: 64, flushGlobal: 256, flushPersistent: 512 };

interface Rig {
  dev: RdmaDevice;
  pd: ProtectionDomain;
  cq: CompletionQueue;
  a: QueuePair;
  z: QueuePair;
}

describe('emulated RDMA devices', () => {
  let backend: Backend;
  let dmb: DmaBridge;

  function start(options: EmulatorOptions = {}): void {
    backend = createEmulator(options);
    dmb = bridgeOn(backend, 'emulator test');
  }

  /** Two QPs of one device connected to each other, completing on one CQ. */
  /** The rigs of the running test: held, since a QP nothing refers to is closed by its finalizer. */
  const rigs: Rig[] = [];
  function rig(name: string): Rig {
    const dev = dmb.openRdma(name);
    const pd = dev.allocPd();
    const cq = dev.createCq(64);
    const { qp: a, peer: z } = loopbackPair(pd, cq);
    const made = { dev, pd, cq, a, z };
    rigs.push(made);
    return made;
  }

  beforeEach(() => start());
  afterEach(() => {
    rigs.length = 0;
    dmb.close();
  });

  it('lists rxe0, mlx5_0 and efa_0, rxe0 first, each saying whether it registers dma-bufs', () => {
    expect(dmb.rdmaDevices().map((d) => d.name)).toEqual(['rxe0', 'mlx5_0', 'efa_0']);
    expect(dmb.openRdma().name).toBe('rxe0');
    const answers = ['rxe0', 'mlx5_0', 'efa_0'].map((name) => {
      const dev = dmb.openRdma(name);
      return { name, dmaBuf: dev.canRegisterDmaBuf, odp: dev.onDemandPaging, link: dev.port().linkLayer };
    });
    expect(answers).toEqual([
      { name: 'rxe0', dmaBuf: false, odp: false, link: 'ethernet' },
      { name: 'mlx5_0', dmaBuf: true, odp: true, link: 'ethernet' },
      { name: 'efa_0', dmaBuf: true, odp: false, link: 'unspecified' },
    ]);
  });

  it('opens a device as two fds (command and async events) and a CQ with one more, all closed again', () => {
    const before = backend.openFds();
    const dev = dmb.openRdma('mlx5_0');
    expect(backend.openFds().length).toBe(before.length + 2);
    const cq = dev.createCq();
    const fds = backend.openFds().slice(before.length);
    expect(fds.map((fd) => backend.readlinkFd(fd))).toEqual(['/dev/infiniband/uverbs1', 'anon_inode:[infinibandevent]', 'anon_inode:[infinibandevent]']);
    cq.close();
    dev.close();
    expect(backend.openFds()).toEqual(before);
  });

  for (const name of ['mlx5_0', 'efa_0']) {
    for (const source of ['udmabuf', 'system heap'] as const) {
      it(`${name}: RDMA moves bytes into and out of a ${source} dma-buf registered as one, seen through its mapping`, async () => {
        const { pd, cq, a } = rig(name);
        using buf = source === 'udmabuf' ? dmb.createUdmabuf(64 * KiB) : dmb.allocHeap(64 * KiB);
        const mr = pd.registerDmaBuf(buf, { access: ['local-write', 'remote-write', 'remote-read'] });
        expect(mr.via).toBe('dma-buf');
        expect(mr).toMatchObject({ addr: 0n, length: 64n * 1024n });
        const local = new Uint8Array(new SharedArrayBuffer(64 * KiB));
        local.set(new Uint8Array(64 * KiB).map((_, i) => (i * 13) & 0xff));
        const lmr = pd.register(local);
        a.postSend([{ opcode: 'write', local: { mr: lmr }, remote: mr.remote(), id: 1n }]);
        expect(await cq.next({ timeout: 1000 })).toMatchObject({ wrId: 1n, status: 'success', opcode: 'rdma-write', byteLen: 64 * KiB });
        {
          using map = buf.map('rw');
          using _ = map.begin('rw');
          expect(Buffer.compare(map.view, local)).toBe(0);
          map.view.fill(0x5a, 0, 4096);
        }
        a.postSend([{ opcode: 'read', local: { mr: lmr, length: 4096 }, remote: mr.remote(), id: 2n }]);
        expect(await cq.next({ timeout: 1000 })).toMatchObject({ wrId: 2n, status: 'success', opcode: 'rdma-read' });
        expect(local.subarray(0, 4096).every((x) => x === 0x5a)).toBe(true);
      });
    }
  }

  it('checks ibv_reg_dmabuf_mr arguments as uverbs and ib_umem_dmabuf_get do, in their order', () => {
    const k = dmb.seam;
    const pdOn = (name: string) => dmb.openRdma(name).allocPd().handle;
    const mlx5 = pdOn('mlx5_0');
    const efa = pdOn('efa_0');
    const rxe = pdOn('rxe0');
    using buf = dmb.createUdmabuf(16 * KiB);
    using memfd = dmb.createMemfd(16 * KiB);
    const reg = (pd: number, offset: bigint, length: bigint, iova: bigint, fd: number, access: number) =>
      errorOf(() => regDmabufMr(k, pd, offset, length, iova, fd, access)).code;
    for (const pd of [mlx5, efa]) {
      expect(reg(pd, 0n, 4096n, 0n, CLOSED_FD, A.lw)).toBe('EBADF');
      expect(reg(pd, 0n, 4096n, 0n, memfd.fd, A.lw)).toBe('EINVAL');
      expect(reg(pd, 4096n, 16n * 1024n, 4096n, buf.fd, A.lw)).toBe('EINVAL');
      expect(reg(pd, 0n, 0n, 0n, buf.fd, A.lw)).toBe('EINVAL');
      // The page offsets of offset and iova differ: refused before the fd is looked at.
      expect(reg(pd, 0n, 4096n, 1n, CLOSED_FD, A.lw)).toBe('EINVAL');
      expect(reg(pd, 0n, 4096n, 0n, CLOSED_FD, A.lw | A.mwBind)).toBe('EINVAL');
      expect(reg(pd, 0n, 4096n, 0n, CLOSED_FD, A.rw)).toBe('EINVAL');
      // No page alignment is needed where offset and iova agree.
      const mr = regDmabufMr(k, pd, 100n, 200n, 0x10064n, buf.fd, A.lw);
      expect(mr).toMatchObject({ addr: 0x10064n, length: 200n });
      expect(mr.rkey).toBe(mr.lkey);
      k.ibvDeregMr(mr.handle);
    }
    // efa's driver takes no remote atomics; mlx5's does.
    expect(reg(efa, 0n, 4096n, 0n, buf.fd, A.lw | A.ra)).toBe('EOPNOTSUPP');
    k.ibvDeregMr(regDmabufMr(k, mlx5, 0n, 4096n, 0n, buf.fd, A.lw | A.ra).handle);
    // rxe has no dma-buf MRs: EOPNOTSUPP before any argument is looked at.
    expect(reg(rxe, 0n, 0n, 1n, CLOSED_FD, 0xffff)).toBe('EOPNOTSUPP');
  });

  it('checks ibv_reg_mr access as ib_check_mr_access and each driver do', () => {
    const k = dmb.seam;
    const pd = (name: string) => dmb.openRdma(name).allocPd().handle;
    const [rxe, mlx5, efa] = [pd('rxe0'), pd('mlx5_0'), pd('efa_0')];
    const view = new Uint8Array(new SharedArrayBuffer(4096));
    const reg = (p: number, access: number) => {
      try {
        k.ibvDeregMr(regMr(k, p, view, access).handle);
        return 'ok';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(reg(rxe, A.rw)).toBe('EINVAL');
    expect(reg(rxe, A.lw | 1 << 15)).toBe('EINVAL');
    expect(reg(rxe, A.lw | A.onDemand)).toBe('EOPNOTSUPP');
    expect(reg(rxe, A.lw | A.zeroBased)).toBe('EOPNOTSUPP');
    expect(reg(rxe, A.lw | A.flushGlobal)).toBe('ok');
    expect(reg(rxe, A.lw | A.flushPersistent)).toBe('EINVAL');
    expect(reg(rxe, A.lw | A.rw | A.rr | A.ra | A.mwBind)).toBe('ok');
    expect(reg(mlx5, A.lw | A.onDemand)).toBe('ok');
    expect(reg(mlx5, A.lw | A.flushGlobal)).toBe('EOPNOTSUPP');
    expect(reg(efa, A.lw | A.ra)).toBe('EOPNOTSUPP');
    expect(reg(efa, A.lw | A.onDemand)).toBe('EOPNOTSUPP');
    expect(errorOf(() => regMr(k, rxe, new Uint8Array(new SharedArrayBuffer(0)), A.lw)).code).toBe('EINVAL');
  });

  it('refuses an mmap of a dma-buf with EFAULT (a PFN mapping), and takes its memfd mapping', () => {
    const pd = dmb.openRdma('rxe0').allocPd();
    using buf = dmb.createUdmabuf(16 * KiB);
    using map = buf.map('rw');
    expect(() => pd.register(map)).toThrow(expect.objectContaining({ code: 'EFAULT', syscall: 'ibv_reg_mr' }));
    using pages = buf.memfdRanges![0].memfd.map('rw');
    pd.register(pages).close();
  });

  it('charges host MRs, not dma-buf MRs, to RLIMIT_MEMLOCK; EPERM at 0; setrlimit as the kernel checks it', () => {
    const k = dmb.seam;
    const { hard } = k.getMemlockLimit();
    expect(k.getMemlockLimit()).toEqual({ soft: 8n << 20n, hard: 8n << 20n });
    expect(errorOf(() => k.setMemlockLimit(hard + 1n, hard))).toMatchObject({ code: 'EINVAL', syscall: 'setrlimit' });
    expect(errorOf(() => k.setMemlockLimit(hard, hard + 1n))).toMatchObject({ code: 'EPERM', syscall: 'setrlimit' });
    k.setMemlockLimit(64n * 1024n, hard);
    const pd = dmb.openRdma('mlx5_0').allocPd();
    const first = pd.register(new Uint8Array(new SharedArrayBuffer(48 * KiB)));
    expect(() => pd.register(new Uint8Array(new SharedArrayBuffer(32 * KiB)))).toThrow(expect.objectContaining({ code: 'ENOMEM', message: expect.stringMatching(/ulimit -l/) }));
    first.close();
    pd.register(new Uint8Array(new SharedArrayBuffer(32 * KiB))).close();
    using buf = dmb.createUdmabuf(1 << 20);
    pd.registerDmaBuf(buf).close();
    k.setMemlockLimit(0n, hard);
    expect(() => pd.register(new Uint8Array(new SharedArrayBuffer(4096)))).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'ibv_reg_mr' }));
    expect(() => pd.register(new Uint8Array(new SharedArrayBuffer(4096)), { access: ['local-write', 'on-demand'] })).not.toThrow();
  });

  it('never hands out a key again right after it was deregistered', () => {
    const pd = dmb.openRdma('rxe0').allocPd();
    const keys = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const mr = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
      expect(mr.rkey).toBe(mr.lkey);
      keys.add(mr.lkey >>> 8);
      mr.close();
    }
    expect(keys.size).toBe(200);
  });

  it('answers EBUSY while a PD, CQ, completion channel or context is still in use', () => {
    const k = dmb.seam;
    const before = backend.openFds();
    const ctx = k.ibvOpenDevice('efa_0');
    const pd = k.ibvAllocPd(ctx);
    const channel = k.ibvCreateCompChannel(ctx);
    const cq = k.ibvCreateCq(ctx, 16, channel.handle, wcWords(1));
    const qp = k.ibvCreateQp(pd, { sendCq: cq, recvCq: cq, qpType: 2, sqSigAll: true, cap: { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } });
    const ebusy = (syscall: string, fn: () => void) => expect(errorOf(fn)).toMatchObject({ code: 'EBUSY', syscall });
    ebusy('ibv_dealloc_pd', () => k.ibvDeallocPd(pd));
    ebusy('ibv_destroy_cq', () => k.ibvDestroyCq(cq));
    ebusy('ibv_destroy_comp_channel', () => k.ibvDestroyCompChannel(channel.handle));
    ebusy('ibv_close_device', () => k.ibvCloseDevice(ctx));
    k.ibvDestroyQp(qp.handle);
    k.ibvDestroyCq(cq);
    k.ibvDestroyCompChannel(channel.handle);
    k.ibvDeallocPd(pd);
    k.ibvCloseDevice(ctx);
    expect(errorOf(() => k.ibvAllocPd(ctx))).toMatchObject({ code: 'EBADF', syscall: 'ibv_alloc_pd' });
    expect(backend.openFds()).toEqual(before);
  });

  it('reports the port going down and coming back through device.on("event")', async () => {
    const dev = dmb.openRdma('rxe0');
    const events: Array<{ type: string; element: number }> = [];
    const heard = (n: number) => new Promise<void>((resolve) => {
      const check = () => (events.length >= n ? resolve() : setImmediate(check));
      check();
    });
    dev.on('event', (e) => events.push(e));
    const port = controls(backend).rdma.device('rxe0');
    port.setPortState('down');
    await heard(1);
    expect(dev.port().state).toBe('down');
    port.setPortState('active');
    await heard(2);
    expect(events).toEqual([{ type: 'port-error', element: 1 }, { type: 'port-active', element: 1 }]);
    expect(dev.port().state).toBe('active');
  });

  it('holds a SEND until the peer posts a receive (rnr_retry 7 retries for ever)', async () => {
    const { pd, cq, a, z } = rig('rxe0');
    const out = pd.register(new Uint8Array(new SharedArrayBuffer(32)).fill(7));
    const inbox = new Uint8Array(new SharedArrayBuffer(32));
    a.postSend([{ opcode: 'send-imm', local: { mr: out }, imm: 42, id: 1n }]);
    await turns();
    expect(cq.poll()).toEqual([]);
    z.postRecv([{ local: { mr: pd.register(inbox) }, id: 2n }]);
    const got = [await cq.next({ timeout: 1000 }), await cq.next({ timeout: 1000 })];
    expect(got).toEqual([
      expect.objectContaining({ wrId: 2n, status: 'success', opcode: 'recv', byteLen: 32, immData: 42 }),
      expect.objectContaining({ wrId: 1n, status: 'success', opcode: 'send' }),
    ]);
    expect(inbox.every((x) => x === 7)).toBe(true);
  });

  // rxe's responder fails the copy as a malformed WQE (as seen on 6.12); an HCA reports a length error.
  const overrun = { rxe0: ['local-qp-op-error', 'remote-operation-error'], mlx5_0: ['local-length-error', 'remote-invalid-request-error'] };
  for (const [name, [recvStatus, sendStatus]] of Object.entries(overrun)) {
    it(`${name}: a SEND longer than the receive fails it with ${recvStatus} and the send with ${sendStatus}; both QPs flush`, async () => {
      const { pd, cq, a, z } = rig(name);
      const out = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
      z.postRecv([{ local: { mr: pd.register(new Uint8Array(new SharedArrayBuffer(16))) }, id: 1n }, { id: 2n }]);
      a.postSend([{ opcode: 'send', local: { mr: out }, id: 3n }, { opcode: 'send', local: { mr: out }, id: 4n }]);
      const got = [];
      for (let i = 0; i < 4; i++) got.push(await cq.next({ timeout: 1000 }));
      expect(got.map((w) => [w.wrId, w.status])).toEqual([
        [1n, recvStatus], [2n, 'wr-flush-error'], [3n, sendStatus], [4n, 'wr-flush-error'],
      ]);
    });
  }

  // rxe moves the QP to ERR before it completes the request, which then completes flushed (as seen on 6.12).
  for (const [name, status] of [['rxe0', 'wr-flush-error'], ['mlx5_0', 'local-protection-error']]) {
    it(`${name}: a write from a deregistered MR completes with ${status}`, async () => {
      const { pd, cq, a } = rig(name);
      const gone = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
      gone.close();
      const rmr = pd.register(new Uint8Array(new SharedArrayBuffer(64)), { access: ['local-write', 'remote-write'] });
      // The public API refuses a closed MR before posting; the device's answer to its stale lkey goes through the seam.
      const trial = { step: (_: string, call: (k: Backend) => unknown) => call(dmb.seam) } as unknown as Trial;
      post(trial, 'write from a deregistered lkey', a.handle, [{ opcode: 'RDMA_WRITE', local: { mr: { addr: gone.addr, lkey: gone.lkey } as IbvMr, length: 64 }, remote: rmr.remote(), id: 1n }]);
      expect(await cq.next({ timeout: 1000 })).toMatchObject({ wrId: 1n, status });
    });
  }

  it('fails a request with retry-exceeded once its peer is gone, after the ACK timeouts on the emulated clock', async () => {
    dmb.close();
    start({ manualClock: true });
    const { pd, cq, a, z } = rig('mlx5_0');
    z.close();
    const lmr = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
    a.postSend([{ opcode: 'write', local: { mr: lmr }, remote: { addr: 0n, length: 64n, rkey: 1 }, id: 9n }]);
    await turns();
    const { clock } = controls(backend);
    // timeout 14 is 4.096 µs × 2^14 ≈ 68 ms; retry_cnt 7 sends it 8 times.
    for (let i = 0; i < 7; i++) clock.advance(68);
    expect(cq.poll()).toEqual([]);
    clock.advance(68);
    expect(cq.poll()).toEqual([expect.objectContaining({ wrId: 9n, status: 'retry-exceeded-error', statusCode: 12 })]);
  });

  it('retries for ever at retry_cnt 7 on rxe, as its completer does', async () => {
    dmb.close();
    start({ manualClock: true });
    const { pd, cq, a, z } = rig('rxe0');
    z.close();
    const lmr = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
    a.postSend([{ opcode: 'write', local: { mr: lmr }, remote: { addr: 0n, length: 64n, rkey: 1 }, id: 9n }]);
    await turns();
    for (let i = 0; i < 100; i++) controls(backend).clock.advance(68);
    expect(cq.poll()).toEqual([]);
  });

  it('answers ENODEV for a RoCE peer address no port on the fabric has (no route to resolve its MAC)', () => {
    const dev = dmb.openRdma('rxe0');
    const qp = dev.allocPd().createQp(dev.createCq());
    const endpoint = qp.endpoint();
    expect(() => qp.connect({ ...endpoint, gid: '0:0:0:0:0:ffff:a09:807' })).toThrow(expect.objectContaining({ code: 'ENODEV', syscall: 'ibv_modify_qp' }));
  });

  it('refuses sends before RTS and transitions off the state machine, with the index of the request', () => {
    const k = dmb.seam;
    const dev = dmb.openRdma('rxe0');
    const pd = dev.allocPd();
    const cq = dev.createCq();
    const qp = pd.createQp(cq);
    const wrs = new BigUint64Array(12);
    expect(errorOf(() => k.ibvPostSend(qp.handle, wrs, 2))).toMatchObject({ code: 'EINVAL', syscall: 'ibv_post_send', index: 0 });
    expect(errorOf(() => k.ibvPostRecv(qp.handle, wrs, 1))).toMatchObject({ code: 'EINVAL', syscall: 'ibv_post_recv', index: 0 });
    expect(errorOf(() => k.ibvModifyQp(qp.handle, { qpState: 2 }, 1))).toMatchObject({ code: 'EINVAL', syscall: 'ibv_modify_qp' });
    const peer = pd.createQp(cq);
    qp.connect(peer.endpoint());
    // An opcode the layout cannot carry (an atomic) is refused at its index; those before it are posted.
    wrs[1] = 2n;
    wrs[7] = 6n;
    expect(errorOf(() => k.ibvPostSend(qp.handle, wrs, 2))).toMatchObject({ code: 'EINVAL', index: 1 });
  });

  it('completes unsignalled requests silently where the QP does not signal all', async () => {
    const dev = dmb.openRdma('rxe0');
    const pd = dev.allocPd();
    const cq = dev.createCq();
    const a = pd.createQp(cq, cq, { signalAll: false });
    const z = pd.createQp(cq);
    a.connect(z.endpoint());
    z.connect(a.endpoint());
    const lmr = pd.register(new Uint8Array(new SharedArrayBuffer(16)).fill(3));
    const target = new Uint8Array(new SharedArrayBuffer(32));
    const rmr = pd.register(target, { access: ['local-write', 'remote-write'] });
    a.postSend([
      { opcode: 'write', local: { mr: lmr }, remote: rmr.remote(), id: 1n },
      { opcode: 'write', local: { mr: lmr }, remote: { ...rmr.remote(), offset: 16 }, id: 2n, signaled: true },
    ]);
    expect(await cq.next({ timeout: 1000 })).toMatchObject({ wrId: 2n, status: 'success' });
    expect(cq.poll()).toEqual([]);
    expect(target.every((x) => x === 3)).toBe(true);
  });

  it('queues a CQ event on the channel only once armed, and its fd polls readable', async () => {
    const k = dmb.seam;
    const { cq, a, pd } = rig('rxe0');
    // The public API keeps the CQ's completion channel to itself.
    const ch = compChannelOf(cq);
    const lmr = pd.register(new Uint8Array(new SharedArrayBuffer(16)));
    const rmr = pd.register(new Uint8Array(new SharedArrayBuffer(16)), { access: ['local-write', 'remote-write'] });
    a.postSend([{ opcode: 'write', local: { mr: lmr }, remote: rmr.remote() }]);
    await turns();
    expect(k.poll(ch.fd, uapi.POLLIN)).toBe(0);
    k.ibvReqNotifyCq(cq.handle, false);
    a.postSend([{ opcode: 'write', local: { mr: lmr }, remote: rmr.remote() }]);
    await turns();
    expect(k.poll(ch.fd, uapi.POLLIN)).toBe(uapi.POLLIN);
    expect(k.ibvGetCqEvent(ch.handle)).toBe(cq.handle);
    expect(k.ibvGetCqEvent(ch.handle)).toBe(-1);
    expect(errorOf(() => k.ibvAckCqEvents(cq.handle, 2)).code).toBe('EINVAL');
    k.ibvAckCqEvents(cq.handle, 1);
    expect(cq.pollCount()).toBe(2);
  });
});
