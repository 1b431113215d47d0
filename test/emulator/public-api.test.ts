// dmabridge/emulator as users reach it: open() on the process's one emulated
// machine or on a machine of their own, and controls() from what they hold.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controls, createEmulator, sharedEmulator } from '../../emulator';
import { open } from '../../src/open';

const ROOT = join(__dirname, '../..');

describe('open() on the emulator', () => {
  it('sees one machine per process: two open()s share devices, fds and Unix sockets', async () => {
    using a = open({ backend: 'emulator' });
    using b = open({ backend: 'emulator' });
    expect(controls(a) === controls(b)).toBe(true);
    const path = `/tmp/dmabridge-one-machine-${process.pid}.sock`;
    using listener = a.listenUnix(path);
    using client = b.connectUnix(path);
    using server = await listener.accept({ timeout: 1000 });
    using buf = b.createUdmabuf(4096);
    await client.sendDmaBuf(buf);
    using received = await server.receiveDmaBuf({ timeout: 1000 });
    expect(received.size).toBe(4096n);
    // One process, as on the kernel: b's buffer is an fd a sees too.
    expect(controls(a).openFds(a).map((f) => f.fd)).toContain(buf.fd);
  });

  it('opens on a machine of createEmulator(), isolated from the shared one', () => {
    const machine = createEmulator({ manualClock: true });
    using dmb = open({ backend: machine });
    expect(dmb.backend).toBe('emulator');
    expect(dmb.reason).toBe('the emulator backend given to open()');
    expect(controls(dmb) === controls(machine)).toBe(true);
    expect(controls(dmb) === controls(sharedEmulator())).toBe(false);
    const before = controls(dmb).clock.nowNs();
    controls(dmb).clock.advance(5);
    expect(controls(dmb).clock.nowNs() - before).toBe(5_000_000n);
  });

  it('controls() takes the DmaBridge, its seam or the backend, and names what else it was given', () => {
    const machine = createEmulator();
    using dmb = open({ backend: machine });
    expect(controls(dmb.seam) === controls(machine)).toBe(true);
    const stranger = { name: 'native' } as never;
    expect(() => controls(stranger)).toThrow(/takes a DmaBridge opened on the emulator, or an emulator backend; this one is native/);
    const other = createEmulator();
    expect(() => controls(dmb).kill(other)).toThrow(/must be one of this emulated machine/);
  });

  it('inspects a process: its fds, and the memory its MRs pin; kill() closes them all', () => {
    const machine = createEmulator();
    using dmb = open({ backend: machine });
    const hooks = controls(dmb);
    // A killed process runs no more JS: nothing of it is closed here.
    const peer = open({ backend: hooks.spawn() });
    const buf = peer.createUdmabuf(4096);
    expect(hooks.openFds(peer)).toContainEqual({ fd: buf.fd, target: expect.stringMatching(/^\/dmabuf:/) });
    const pd = peer.openRdma('rxe0').allocPd();
    pd.register(new Uint8Array(new SharedArrayBuffer(8192)));
    expect(hooks.pinnedBytes(peer)).toBe(8192);
    hooks.kill(peer);
    expect(hooks.openFds(peer)).toEqual([]);
    expect(hooks.pinnedBytes(peer)).toBe(0);
    expect(hooks.openFds(dmb)).toEqual([]);
  });

  it('refuses a backend choice it does not know', () => {
    expect(() => open({ backend: 'emulated' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

describe('the package entry dmabridge/emulator', () => {
  it('is one module instance for import and require', () => {
    const script = [
      "import { sharedEmulator, controls } from 'dmabridge/emulator';",
      "import { open } from 'dmabridge';",
      "import { createRequire } from 'node:module';",
      "const require = createRequire(process.cwd() + '/');",
      "const dmb = open({ backend: 'emulator' });",
      "console.log(require('dmabridge/emulator').sharedEmulator === sharedEmulator, controls(require('dmabridge').open({ backend: 'emulator' })) === controls(dmb));",
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(out.trim()).toBe('true true');
  });
});
