import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { controls } from '../../emulator';
import type { Backend } from '../../seam/backend';
import * as uapi from '../../seam/uapi';
import type { DmaBridge } from '../../src/dmabridge';
import type { UnixChannel } from '../../src/fd-passing';
import { bridgeOn, describeEachBackend } from '../support/backends';
import { inKernelVm, itNeeds } from '../support/skip';

// Who may connect to a listening socket, and what a peer learns and costs.
// "Another user" is uid 65534: on native a child under setpriv (the test runs
// as root in the kernel VM), on the emulator a process spawned as that uid.
const NOBODY = 65534;
const SELF = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() };
const PEER_FIXTURE = join(__dirname, '../fixtures/unix-peer.js');
const CTRUNC_FIXTURE = join(__dirname, '../fixtures/ctrunc-receiver.js');
// A node child can take half a minute to start in the kernel VM while other work shares its two CPUs.
const CHILD_MS = 120_000;
const TEST_MS = 2 * CHILD_MS;

interface PeerRun {
  self: { pid: number; uid: number; gid: number };
  listener?: { pid: number; uid: number; gid: number };
  reply?: string;
  error?: { code: string; syscall: string; message: string };
}

describeEachBackend('Unix sockets: modes, peer credentials and hostile peers', (b) => {
  let backend: Backend;
  let dmb: DmaBridge;
  let dir: string;
  let fds: number[];
  beforeEach(() => {
    backend = b.create();
    fds = backend.openFds();
    dmb = bridgeOn(backend, `test on ${b.name}`);
    // Searchable by others, so that only the socket's own mode decides.
    dir = mkdtempSync(join(tmpdir(), 'dmabridge-'));
    chmodSync(dir, 0o711);
  });
  afterEach(() => {
    dmb.close();
    rmSync(dir, { recursive: true, force: true });
    expect(backend.openFds()).toEqual(fds);
  });

  const itAsOtherUser = itNeeds(b.name === 'emulator' || SELF.uid === 0 || inKernelVm ? null : 'starting a process as uid 65534 needs root; npm run test:kernel runs it');

  /** Uid 65534 connects to `path`, passes an fd with one byte, and waits for a reply or the end of the stream. */
  async function otherUser(path: string): Promise<PeerRun> {
    if (b.name === 'native') {
      const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, PEER_FIXTURE, path], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      const [code] = (await once(child, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`the uid ${NOBODY} process exited with ${code}`);
      return JSON.parse(out.trim().split('\n').pop()!) as PeerRun;
    }
    const other = bridgeOn(controls(backend).spawn({ uid: NOBODY, gid: NOBODY }), 'another user');
    const self = other.seam.credentials();
    const others = other.seam.openFds();
    const run: PeerRun = { self };
    try {
      using channel = other.connectUnix(path);
      run.listener = channel.peer;
      using mem = other.createMemfd(4096);
      await channel.send('x', { fds: [mem] });
      run.reply = Buffer.from((await channel.receive({ timeout: CHILD_MS })).data).toString();
      return run;
    } catch (e) {
      const { code, syscall, message } = e as { code: string; syscall: string; message: string };
      return { ...run, error: { code, syscall, message } };
    } finally {
      expect(other.seam.openFds()).toEqual(others);
      other.close();
    }
  }

  /** Replies to a peer's one byte and closes the fd it passed. */
  async function answer(channel: UnixChannel): Promise<void> {
    const { data, fds: passed } = await channel.receive({ timeout: CHILD_MS });
    expect(Buffer.from(data).toString()).toBe('x');
    expect(passed).toHaveLength(1);
    for (const fd of passed) dmb.seam.close(fd);
    await channel.send('welcome');
  }

  it('makes the socket file 0600 by default and exactly the mode asked, whatever the umask', () => {
    const path = join(dir, 'sock');
    const old = b.name === 'native' ? process.umask(0o277) : undefined;
    try {
      using listener = dmb.listenUnix(path);
      expect(dmb.seam.lstat(path)).toEqual({ mode: uapi.S_IFSOCK | 0o600, uid: SELF.uid, gid: SELF.gid });
      if (b.name === 'native') expect(statSync(path).mode).toBe(uapi.S_IFSOCK | 0o600);
      listener.close();
      using wide = dmb.listenUnix(path, { mode: 0o666 });
      expect(dmb.seam.lstat(path).mode).toBe(uapi.S_IFSOCK | 0o666);
    } finally {
      if (old !== undefined) process.umask(old);
    }
  });

  it('tells each end who the other is (SO_PEERCRED)', async () => {
    const path = join(dir, 'sock');
    using listener = dmb.listenUnix(path);
    using client = dmb.connectUnix(path, { allow: { uids: [SELF.uid] } });
    using server = await listener.accept({ timeout: 5000 });
    expect(client.peer).toEqual(SELF);
    expect(server.peer).toEqual(SELF);
    const [a, z] = dmb.socketPair();
    expect(a.peer).toEqual(SELF);
    expect(z.peer).toEqual(SELF);
    expect(Object.isFrozen(server.peer)).toBe(true);
  });

  itAsOtherUser('refuses another user by the socket mode: EACCES, with advice', async () => {
    const path = join(dir, 'sock');
    using _ = dmb.listenUnix(path);
    expect((await otherUser(path)).error).toEqual({ code: 'EACCES', syscall: 'connect', message: expect.stringMatching(/no permission to connect to .*listenUnix makes it 0600/) });
  }, TEST_MS);

  itAsOtherUser('refuses another user by allow before anything passes, and takes the next allowed one', async () => {
    const path = join(dir, 'sock');
    using listener = dmb.listenUnix(path, { mode: 0o666, allow: { uids: [SELF.uid] } });
    const waiting = listener.accept({ timeout: CHILD_MS });
    // The pending accept closed the connection unread: the peer's send finds it gone (EPIPE), or, where the
    // byte and fd went first, its read reports them discarded (ECONNRESET). The accept waits on.
    const refused = await otherUser(path);
    expect(refused).toMatchObject({ listener: SELF });
    expect(refused.reply).toBeUndefined();
    expect([['EPIPE', 'sendmsg'], ['ECONNRESET', 'recvmsg']]).toContainEqual([refused.error?.code, refused.error?.syscall]);
    using client = dmb.connectUnix(path);
    using server = await waiting;
    expect(server.peer).toEqual(SELF);
  }, TEST_MS);

  itAsOtherUser('accepts another user when allowed, and both sides see the right credentials', async () => {
    const path = join(dir, 'sock');
    using listener = dmb.listenUnix(path, { mode: 0o666, allow: (peer) => peer.uid === NOBODY });
    const run = otherUser(path);
    using channel = await listener.accept({ timeout: CHILD_MS });
    await answer(channel);
    const seen = await run;
    expect(seen).toMatchObject({ reply: 'welcome', listener: SELF });
    expect(channel.peer).toEqual(seen.self);
    expect(channel.peer).toMatchObject({ uid: NOBODY, gid: NOBODY });
  }, TEST_MS);

  it('connectUnix with allow refuses a listener of another identity: EPERM, nothing left open', async () => {
    const path = join(dir, 'sock');
    using listener = dmb.listenUnix(path);
    expect(() => dmb.connectUnix(path, { allow: { uids: [NOBODY] } })).toThrow(expect.objectContaining({
      code: 'EPERM', syscall: 'connect', message: expect.stringMatching(new RegExp(`uid ${SELF.uid}, gid ${SELF.gid}, which options.allow does not accept`)),
    }));
    expect(() => dmb.connectUnix(path, { allow: () => false })).toThrow(expect.objectContaining({ code: 'EPERM' }));
    // The refused connections were closed: the listener finds them ended.
    for (let i = 0; i < 2; i++) {
      using gone = await listener.accept({ timeout: 5000 });
      expect((await gone.receive({ timeout: 5000 })).data).toHaveLength(0);
    }
  });

  it('replaces a stale socket of its own, never a live one or another file', () => {
    const path = join(dir, 'sock');
    // A listener that died: its file stays, and nothing listens on it.
    dmb.seam.close(dmb.seam.unixListen(path, 1, 0o600));
    using listener = dmb.listenUnix(path);
    expect(() => dmb.listenUnix(path)).toThrow(expect.objectContaining({ code: 'EADDRINUSE', message: expect.stringMatching(/a listener lives there/) }));
    listener.close();
    const other = b.name === 'native' ? join(dir, 'file') : '/dev/udmabuf';
    if (b.name === 'native') writeFileSync(other, 'keep me');
    expect(() => dmb.listenUnix(other)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    expect(dmb.seam.lstat(other).mode & uapi.S_IFMT).not.toBe(uapi.S_IFSOCK);
  });

  it('refuses bad arguments with Node\'s codes before anything is made', () => {
    const path = join(dir, 'sock');
    const badAllow: Array<[unknown, string]> = [
      [5, 'ERR_INVALID_ARG_TYPE'], [{}, 'ERR_INVALID_ARG_VALUE'], [{ uids: 0 }, 'ERR_INVALID_ARG_TYPE'],
      [{ uids: [-1] }, 'ERR_OUT_OF_RANGE'], [{ gids: [1.5] }, 'ERR_OUT_OF_RANGE'], [{ uids: ['0'] }, 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [allow, code] of badAllow) {
      expect(() => dmb.listenUnix(path, { allow } as never)).toThrow(expect.objectContaining({ code }));
      expect(() => dmb.connectUnix(path, { allow } as never)).toThrow(expect.objectContaining({ code }));
    }
    expect(() => dmb.listenUnix(path, { mode: '0600' } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    for (const mode of [0o1000, -1, 0.5]) expect(() => dmb.listenUnix(path, { mode })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => dmb.seam.lstat(path)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('a flood of fds costs nothing past each call: thousands refused where a dma-buf was awaited', async () => {
    const [a, z] = dmb.socketPair();
    using mem = dmb.createMemfd(4096);
    const open = backend.openFds();
    const many = Array.from({ length: 253 }, () => mem);
    const sending = (async () => {
      for (let i = 0; i < 20; i++) await a.send('x', { fds: many, timeout: 30000 });
      await a.send('g');
      a.close();
    })();
    for (let i = 0; i < 20; i++) {
      await expect(z.receiveDmaBuf({ timeout: 30000 })).rejects.toMatchObject({ code: 'EBADMSG', message: expect.stringMatching(/passed 253 fds/) });
    }
    await sending;
    await expect(z.receiveDmaBuf({ timeout: 30000 })).rejects.toMatchObject({ code: 'EBADMSG', message: expect.stringMatching(/without an fd/) });
    await expect(z.receiveDmaBuf({ timeout: 30000 })).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(backend.openFds()).toEqual(open.filter((fd) => fd !== a.fd));
    z.close();
  }, TEST_MS);

  it('fds cut off for want of fd numbers (MSG_CTRUNC): those that came are closed, and receive fails with EMSGSIZE', async () => {
    const path = join(dir, 'sock');
    using listener = dmb.listenUnix(path);
    using mem = dmb.createMemfd(4096);
    const many = Array.from({ length: 253 }, () => mem);
    if (b.name === 'native') {
      const [a, z] = dmb.socketPair();
      const child = spawn('bash', ['-c', 'ulimit -n 64 && exec "$0" "$1"', process.execPath, CTRUNC_FIXTURE], { stdio: ['ignore', 'pipe', 'inherit', z.fd] });
      let out = '';
      const exited = once(child, 'exit') as Promise<[number | null]>;
      await new Promise<void>((ready) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d;
          if (out.includes('ready')) ready();
        });
        void exited.then(() => ready());
      });
      await a.send('x', { fds: many });
      const [code] = await exited;
      expect(code).toBe(0);
      expect(JSON.parse(out.trim().split('\n').pop()!)).toMatchObject({ code: 'EMSGSIZE', syscall: 'recvmsg', message: expect.stringMatching(/MSG_CTRUNC\); the [1-9]\d* that did were closed/), memfds: 0 });
      a.close();
      z.close();
      return;
    }
    const other = bridgeOn(controls(backend).spawn({ nofile: 16 }), 'a process with ulimit -n 16');
    try {
      using client = other.connectUnix(path);
      const before = other.seam.openFds();
      using server = await listener.accept({ timeout: 5000 });
      await server.send('x', { fds: many });
      await expect(client.receive()).rejects.toMatchObject({ code: 'EMSGSIZE', syscall: 'recvmsg', message: expect.stringMatching(/MSG_CTRUNC\); the [1-9]\d* that did were closed/) });
      expect(other.seam.openFds()).toEqual(before);
    } finally {
      other.close();
    }
  }, TEST_MS);

  it('fds a peer sent and closed on are released with the unread message when the receiver closes', async () => {
    const [a, z] = dmb.socketPair();
    const mem = dmb.createMemfd(4096);
    const open = backend.openFds();
    await a.send('half a message', { fds: [mem, mem, mem] });
    a.close();
    mem.close();
    z.close();
    expect(backend.openFds()).toEqual(open.filter((fd) => fd !== a.fd && fd !== z.fd && fd !== mem.fd));
  });
});
