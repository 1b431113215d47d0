import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { controls } from '../../emulator';
import type { Backend } from '../../seam/backend';
import type { DmaBridge } from '../../src/dmabridge';
import { bridgeOn, describeEachBackend, DEVICES, itWith } from '../support/backends';

// The other process is a node child running test/fixtures/dmabuf-peer.js on
// native (it loads dist/: `npm test` builds it), and a second process of the
// same emulated machine on the emulator, running the same steps.
const FIXTURE = join(__dirname, '../fixtures/dmabuf-peer.js');
const { peer, pattern, reply } = require(FIXTURE) as {
  peer(dmb: DmaBridge, path: string): Promise<void>;
  pattern(i: number): number;
  reply(i: number): number;
};

describeEachBackend('passing dma-bufs between processes', (b) => {
  const itUdmabuf = itWith(b, DEVICES.udmabuf);
  let backend: Backend;
  let dmb: DmaBridge;
  let dir: string;
  let fds: number[];
  beforeEach(() => {
    backend = b.create();
    fds = backend.openFds();
    dmb = bridgeOn(backend, `test on ${b.name}`);
    dir = mkdtempSync(join(tmpdir(), 'dmabridge-'));
  });
  afterEach(() => {
    dmb.close();
    rmSync(dir, { recursive: true, force: true });
    expect(backend.openFds()).toEqual(fds);
  });

  async function otherProcess(path: string): Promise<void> {
    if (b.name === 'emulator') {
      const other = bridgeOn(controls(backend).spawn(), 'the other process');
      try {
        return await peer(other, path);
      } finally {
        other.close();
      }
    }
    const child = spawn(process.execPath, [FIXTURE, path], { stdio: ['ignore', 'inherit', 'inherit'] });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`the peer process exited with ${code}`);
  }

  itUdmabuf('passes a udmabuf to another process over a listening socket; both see the same bytes', async () => {
    const path = join(dir, 'sock');
    using listener = dmb.listenUnix(path);
    const done = otherProcess(path);
    using channel = await listener.accept({ timeout: 30000 });
    using buf = dmb.createUdmabuf(64 << 10);
    using map = buf.map('rw');
    {
      using _ = map.begin('write');
      for (let i = 0; i < map.view.length; i++) map.view[i] = pattern(i);
    }
    await channel.sendDmaBuf(buf);
    const answer = await channel.receive({ timeout: 30000 });
    expect(JSON.parse(Buffer.from(answer.data).toString())).toEqual({ same: true, size: 64 << 10, exporter: 'udmabuf' });
    await done;
    using _ = map.begin('read');
    expect(map.view.every((v, i) => v === reply(i))).toBe(true);
  }, 60000);

  itUdmabuf('receiveDmaBuf takes only the byte that carries the fd, and the buffer is the same', async () => {
    const [a, z] = dmb.socketPair();
    using buf = dmb.createUdmabuf(4096);
    await a.send('xyz', { fds: [buf] });
    using got = await z.receiveDmaBuf();
    expect(got.info()).toMatchObject({ size: 4096n, exporter: 'udmabuf' });
    expect(got.fd).not.toBe(buf.fd);
    expect(Buffer.from((await z.receive()).data).toString()).toBe('yz');
  });

  it('reads across messages but stops after one that carried fds, as the kernel does', async () => {
    const [a, z] = dmb.socketPair();
    using mem = dmb.createMemfd(4096);
    await a.send('ab');
    await a.send('cd', { fds: [mem, mem] });
    await a.send('ef');
    const first = await z.receive();
    expect(Buffer.from(first.data).toString()).toBe('abcd');
    expect(first.fds).toHaveLength(2);
    for (const fd of first.fds) {
      expect(dmb.seam.readlinkFd(fd)).toMatch(/^\/memfd:dmabridge/);
      dmb.seam.close(fd);
    }
    expect(Buffer.from((await z.receive()).data).toString()).toBe('ef');
  });

  it('sends more than the socket buffer holds, waiting for the reader, with the files of the call', async () => {
    const [a, z] = dmb.socketPair();
    const mem = dmb.createMemfd(4096, { name: 'passed' });
    const data = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    const sending = a.send(data, { fds: [mem] });
    mem.close();
    const got: Uint8Array[] = [];
    let received = 0;
    let passed: number[] = [];
    while (received < data.length) {
      const m = await z.receive({ timeout: 10000 });
      got.push(m.data);
      received += m.data.length;
      passed = passed.concat(m.fds);
    }
    await sending;
    expect(Buffer.compare(Buffer.concat(got), data)).toBe(0);
    expect(passed).toHaveLength(1);
    expect(dmb.seam.readlinkFd(passed[0])).toMatch(/^\/memfd:passed/);
    dmb.seam.close(passed[0]);
  });

  it('refuses what is not a dma-buf, closing what came', async () => {
    const [a, z] = dmb.socketPair();
    using mem = dmb.createMemfd(4096);
    await a.send('x', { fds: [mem] });
    await expect(z.receiveDmaBuf()).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/is not a dma-buf/) });
    await a.send('no fd here');
    await expect(z.receiveDmaBuf()).rejects.toMatchObject({ code: 'EBADMSG', message: expect.stringMatching(/without an fd/) });
    await expect(a.send('', { fds: [mem] })).rejects.toThrow(TypeError);
  });

  it('sees the peer close: end of stream, ECONNRESET where a dma-buf was awaited, EPIPE on send', async () => {
    const [a, z] = dmb.socketPair();
    const pending = z.receiveDmaBuf();
    a.close();
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET', message: expect.stringMatching(/closed the connection/) });
    expect((await z.receive()).data).toHaveLength(0);
    await expect(z.send('x')).rejects.toMatchObject({ code: 'EPIPE', syscall: 'sendmsg', message: expect.stringMatching(/peer closed/) });
  });

  it('waits without blocking: times out, and closing the channel cancels the wait', async () => {
    // Both ends held: a collected end would be closed by its finalizer, and the other would read end-of-file.
    const [a, z] = dmb.socketPair();
    await expect(z.receive({ timeout: 20 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    const pending = z.receive();
    z.close();
    await expect(pending).rejects.toMatchObject({ code: 'ECANCELED' });
    a.close();
  });

  it('listens and connects by path, and removes the path on close', async () => {
    const path = join(dir, 'listener');
    const listener = dmb.listenUnix(path);
    expect(() => dmb.listenUnix(path)).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind', message: expect.stringMatching(/exists already/) }));
    // That second listenUnix connected once to learn that a listener lives there: the listener sees it end at once.
    using probe = await listener.accept({ timeout: 5000 });
    expect((await probe.receive({ timeout: 5000 })).data).toHaveLength(0);
    using client = dmb.connectUnix(path);
    using server = await listener.accept({ timeout: 5000 });
    await client.send('hello');
    expect(Buffer.from((await server.receive()).data).toString()).toBe('hello');
    listener.close();
    expect(() => dmb.connectUnix(path)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'connect', message: expect.stringMatching(/start the listener first/) }));
    expect(() => dmb.listenUnix(join(dir, 'x'.repeat(120)))).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'bind' }));
  });

  it('wraps an inherited socket fd, and refuses an fd that is no socket', async () => {
    const [a, z] = dmb.socketPair();
    using mem = dmb.createMemfd(4096);
    using imported = dmb.importSocket(a.fd);
    await imported.send('via the copy');
    expect(Buffer.from((await z.receive()).data).toString()).toBe('via the copy');
    expect(() => dmb.importSocket(mem.fd)).toThrow(expect.objectContaining({ code: 'ENOTSOCK', message: `fd ${mem.fd} is not a socket` }));
  });
});
