// Host memory stays alive and in place while an MR covers it, whatever JS does
// with its buffer: only memory JS cannot free registers (a SharedArrayBuffer,
// which cannot be detached and which the MR references, or a mapping, which
// cannot be unmapped while registered and whose collection waits for the MR).
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, expect } from 'vitest';
import type { DmaBridge } from '../../src';
import type { VerbsCalls } from '../../seam/backend-verbs';
import type { CompletionQueue } from '../../src/verbs/cq';
import type { ProtectionDomain } from '../../src/verbs/pd';
import type { QueuePair } from '../../src/verbs/qp';
import { loopbackPair } from '../../src/verbs/loopback';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../seam/uapi';
import { collectGarbage, DEVICES, describeEachBackend, itWith, openOn } from '../support/backends';
import { expectErrno } from '../support/errno';
import { decodeMr, MR_WORDS, regMr } from '../../seam/mr-words';

const LOCAL_WRITE = 1, REMOTE_READ = 4;

describeEachBackend('registered host memory', (b) => {
  const it = itWith(b, DEVICES.rxe);
  let dmb: DmaBridge;
  let k: VerbsCalls & DmaBridge['seam'];
  let pd: ProtectionDomain;
  let cq: CompletionQueue;
  let a: QueuePair;
  let z: QueuePair;  // held: a collected QP is closed by its finalizer

  beforeEach(() => {
    dmb = openOn(b);
    k = dmb.seam as VerbsCalls & DmaBridge['seam'];
    const dev = dmb.openRdma('rxe0');
    pd = dev.allocPd();
    cq = dev.createCq(16);
    ({ qp: a, peer: z } = loopbackPair(pd, cq));
  });
  afterEach(() => dmb.close());

  /** What an RDMA READ through `a` fetches from the MR (addr, rkey) now. */
  async function readBack(remote: { addr: bigint; rkey: number }, length: number): Promise<Uint8Array> {
    const into = new Uint8Array(new SharedArrayBuffer(length));
    const mr = pd.register(into, { access: ['local-write'] });
    a.postSend([{ opcode: 'read', local: { mr }, remote: { ...remote, length: BigInt(length) }, id: 1n }]);
    expect(await cq.next({ timeout: 10000 })).toMatchObject({ status: 'success' });
    mr.close();
    return into;
  }

  it('refuses memory JS can free: an ArrayBuffer, a typed array or Buffer over one, a resizable one', () => {
    for (const memory of [new ArrayBuffer(64), new Uint8Array(64), Buffer.alloc(64), new Uint32Array(16), new Uint8Array(new ArrayBuffer(64, { maxByteLength: 128 }))]) {
      expect(() => pd.register(memory)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/SharedArrayBuffer/) }));
    }
    expect(() => regMr(k, pd.handle, new Uint8Array(64), LOCAL_WRITE)).toThrow(TypeError);
    expect(() => regMr(k, pd.handle, Buffer.alloc(64), LOCAL_WRITE)).toThrow(TypeError);
  });

  it('writes a registration\'s keys, address and length to the words given, and refuses words too few to hold them', () => {
    const view = new Uint8Array(new SharedArrayBuffer(8192)).subarray(100, 4196);
    for (const out of [undefined, new BigUint64Array(MR_WORDS - 1), new BigInt64Array(MR_WORDS), new Float64Array(MR_WORDS), [0n, 0n, 0n]]) {
      expect(() => k.ibvRegMr(pd.handle, view, LOCAL_WRITE, out as BigUint64Array)).toThrow(TypeError);
      expect(() => k.ibvRegDmabufMr(pd.handle, 0n, 4096n, 0n, -1, LOCAL_WRITE, out as BigUint64Array)).toThrow(TypeError);
    }
    // One word more than needed, behind an offset: only the three are written.
    const out = new BigUint64Array(MR_WORDS + 2).subarray(1);
    out[MR_WORDS] = 7n;
    const handle = k.ibvRegMr(pd.handle, view, LOCAL_WRITE, out);
    const mr = decodeMr(handle, out);
    expect(mr).toEqual({ handle, lkey: expect.any(Number), rkey: mr.lkey, addr: mr.addr, length: 4096n });
    expect(out[MR_WORDS]).toBe(7n);
    k.ibvDeregMr(handle);
    // The refused calls registered nothing: the PD has no MR left to make it busy.
    expect(() => pd.close()).not.toThrow();
  });

  it('takes a SharedArrayBuffer, a typed array or Buffer over one, and a subarray', () => {
    const sab = new SharedArrayBuffer(8192);
    for (const memory of [sab, new Uint32Array(sab), Buffer.from(sab, 100, 1000), new Uint8Array(sab).subarray(10, 20)]) {
      const mr = pd.register(memory);
      expect(mr.length).toBe(BigInt((memory as { byteLength: number }).byteLength));
      mr.close();
    }
  });

  it('keeps a SharedArrayBuffer registered through the seam alive after JS dropped it and a worker it went to exited', async () => {
    const mr = (() => {
      const sab = new SharedArrayBuffer(4096);
      new Uint8Array(sab).fill(0x5a);
      const worker = new Worker('require("node:worker_threads").parentPort.once("message", () => process.exit(0))', { eval: true });
      worker.postMessage(sab);
      return { raw: regMr(k, pd.handle, new Uint8Array(sab), LOCAL_WRITE | REMOTE_READ), exited: new Promise((r) => worker.once('exit', r)) };
    })();
    await mr.exited;
    await collectGarbage(true);
    expect((await readBack(mr.raw, 4096)).every((x) => x === 0x5a)).toBe(true);
    k.ibvDeregMr(mr.raw.handle);
  });

  it('refuses to unmap a mapping an MR covers (EBUSY), and unmaps it once deregistered', () => {
    const fd = k.memfdCreate('registered-memory', 0);
    k.ftruncate(fd, 8192n);
    const view = k.mmap(fd, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, 0n);
    const mr = regMr(k, pd.handle, view.subarray(4096), LOCAL_WRITE);
    expectErrno(() => k.munmap(view), 'EBUSY', 'munmap');
    k.ibvDeregMr(mr.handle);
    k.munmap(view);
    k.close(fd);
  });

  it('keeps a mapping registered through the seam mapped after JS dropped its view, until the MR goes', async () => {
    const name = `registered-memory-${b.name}-${process.pid}`;
    const fd = k.memfdCreate(name, 0);
    k.ftruncate(fd, 4096n);
    const raw = (() => {
      const view = k.mmap(fd, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 0n);
      view.fill(0x33);
      return regMr(k, pd.handle, view, LOCAL_WRITE | REMOTE_READ);
    })();
    k.close(fd);
    await collectGarbage(true);
    expect((await readBack(raw, 4096)).every((x) => x === 0x33)).toBe(true);
    const mapped = () => readFileSync('/proc/self/maps', 'utf8').includes(`/memfd:${name}`);
    if (b.name === 'native') expect(mapped()).toBe(true);
    k.ibvDeregMr(raw.handle);
    if (b.name === 'native') expect(mapped()).toBe(false);
  });
});
