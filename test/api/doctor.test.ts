import { execFile } from 'node:child_process';
import { existsSync, statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../src/native';
import { inKernelVm } from '../support/skip';
import { canHideLibraries, runWithout } from '../support/hidden-library';

// `dmabridge doctor` checks the machine, whatever the backend: here on the
// host, where it must name what is missing, and in the real-kernel VM, where
// everything it can check passes. Then one induced failure per kind of check.
const main = join(__dirname, '../../dist/src/cli/main.js');
const isRoot = process.getuid?.() === 0;

interface Report {
  ok: boolean;
  unmet: string[];
  checks: Array<{ id: string; ok: boolean; found: string; problems: Array<{ what: string; fix: string }> }>;
}

// Asynchronously: under the VM's TCG a run takes seconds, and a blocked test
// worker loses vitest's calls into it.
function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { encoding: 'utf8', env, timeout: 100_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

async function doctor(args: string[], wrap: string[] = []): Promise<{ status: number | null; report: Report; stderr: string }> {
  const r = await run([...wrap, process.execPath, main, 'doctor', '--json', ...args]);
  return { status: r.status, report: JSON.parse(r.stdout || '{}') as Report, stderr: r.stderr };
}

const SLOW = 120_000;

const byId = (report: Report, id: string) => report.checks.find((c) => c.id === id)!;

describe('dmabridge doctor', () => {
  it('names each thing as this machine has it, and exits 1 only for what --need asks', async () => {
    const all = ['native', 'kernel', 'udmabuf', 'dma-heap', 'vgem', 'rdma', 'rdma-cm', 'memlock'];
    const { status, report, stderr } = await doctor(['--need', all.join(',')]);
    expect(stderr).toBe('');
    const has: Record<string, boolean> = {
      udmabuf: existsSync('/dev/udmabuf'),
      'dma-heap': existsSync('/dev/dma_heap/system'),
      vgem: existsSync('/sys/module/vgem'),
      'rdma-cm': existsSync('/dev/infiniband/rdma_cm'),
      rdma: existsSync('/sys/class/infiniband/rxe0') || existsSync('/sys/class/infiniband/mlx5_0'),
    };
    for (const [id, present] of Object.entries(has)) {
      const check = byId(report, id);
      expect(check.ok, `${id}: ${check.found}`).toBe(present);
      if (!present) expect(check.problems[0]!.fix, id).toMatch(/modprobe|CONFIG_|rdma link add/);
    }
    expect(byId(report, 'native').found).toMatch(loadNative().backend ? /^addon: (prebuild|local build) \// : /did not load/);
    expect(status).toBe(report.unmet.length ? 1 : 0);
    if (inKernelVm) {
      // Everything the VM has passes; it has no NIC that registers dma-bufs and no GPU.
      expect(report.unmet).toEqual([]);
      expect(report.checks.filter((c) => !c.ok).map((c) => c.id)).toEqual(['dma-buf-mr', 'cuda']);
      expect(byId(report, 'rdma').found).toMatch(/rxe0 port 1 active ethernet, GID [0-9a-f:]+/);
      expect(byId(report, 'rdma-core').found).toMatch(/^libibverbs and librdmacm load \(rdma-core \d+\)$/);
      expect(byId(report, 'dma-buf-mr').problems[0]!.fix).toMatch(/fallback: 'memfd-pages'/);
    } else {
      expect(report.unmet.length).toBeGreaterThan(0);
    }
    const met = await doctor(['--need', 'memlock']);
    expect(met.status).toBe(byId(met.report, 'memlock').ok ? 0 : 1);
  }, SLOW);

  const root = isRoot ? it : it.skip;

  root('says which modules are not loaded, with modprobe, when /sys/module shows none', async () => {
    const { status, report } = await doctor(['--need', 'kernel'], ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /sys/module && exec "$@"', 'sh']);
    expect(status).toBe(1);
    const kernel = byId(report, 'kernel');
    expect(kernel.found).toMatch(/vgem absent/);
    // Where /lib/modules/<release> is absent (the VM loads its modules from the initramfs) it says to install them first.
    expect(kernel.problems).toContainEqual({
      what: expect.stringMatching(/^vgem \(a DRM device with fences, for testing\) is not (loaded|in kernel)/),
      fix: expect.stringMatching(/modprobe vgem$|CONFIG_DRM_VGEM=m$/),
    });
  }, SLOW);

  root('says a lowered ulimit -l is too small for --memlock, once CAP_IPC_LOCK is dropped', async () => {
    const { status, report } = await doctor(['--need', 'memlock', '--memlock', '64'], ['setpriv', '--bounding-set', '-ipc_lock', 'sh', '-c', 'ulimit -l 1024 && exec "$@"', 'sh']);
    expect(status).toBe(1);
    expect(byId(report, 'memlock')).toMatchObject({
      ok: false,
      found: 'ulimit -l 1 MiB; 64 MiB asked for (--memlock)',
      problems: [{ what: expect.stringMatching(/at least that, and it is 1 MiB/), fix: expect.stringMatching(/^ulimit -l 65536 .*memlock unlimited/) }],
    });
    // As root (CAP_IPC_LOCK) the same limit does not bind.
    expect((await doctor(['--need', 'memlock', '--memlock', '64'], ['sh', '-c', 'ulimit -l 1024 && exec "$@"', 'sh'])).status).toBe(0);
  }, SLOW);

  const withUdmabuf = isRoot && (inKernelVm || existsSync('/dev/udmabuf')) ? it : it.skip;

  withUdmabuf('gives the udev rule and the group when a device node\'s mode shuts this user out', async () => {
    const mode = statSync('/dev/udmabuf').mode & 0o7777;
    chmodSync('/dev/udmabuf', 0o000);
    try {
      const { status, report } = await doctor(['--need', 'udmabuf'], ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--']);
      expect(status).toBe(1);
      expect(byId(report, 'permissions').problems).toContainEqual({
        what: '/dev/udmabuf is not readable and writable by this user',
        fix: expect.stringMatching(/^add 'KERNEL=="udmabuf", GROUP="video", MODE="0660"' to \/etc\/udev\/rules.d\/70-dmabridge.rules, .*usermod -aG video \$USER/),
      });
    } finally {
      chmodSync('/dev/udmabuf', mode);
    }
  }, SLOW);

  it('says the addon did not load and how to build it when it cannot', async () => {
    const r = await run([process.execPath, main, 'doctor', '--json', '--need', 'native'], { ...process.env, DMABRIDGE_NATIVE_PATH: '/nonexistent/dmabridge.node' });
    expect(r.status).toBe(1);
    const native = byId(JSON.parse(r.stdout) as Report, 'native');
    expect(native).toMatchObject({ ok: false, found: 'the native addon did not load' });
    expect(native.problems[0]!.what).toMatch(/\/nonexistent\/dmabridge.node \(DMABRIDGE_NATIVE_PATH\) failed to load/);
  }, SLOW);

  const libibverbs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']
    .map((dir) => join(dir, 'libibverbs.so.1')).find((file) => existsSync(file));
  (canHideLibraries && libibverbs && loadNative().backend ? it : it.skip)('names the rdma-core packages when libibverbs is missing', () => {
    const script = `process.argv = [process.execPath, 'dmabridge', 'doctor', '--json', '--need', 'rdma']; require(${JSON.stringify(main)});`;
    const r = runWithout(libibverbs!, script);
    expect(r.status).toBe(1);
    const check = byId(JSON.parse(r.stdout) as Report, 'rdma-core');
    expect(check.ok).toBe(false);
    expect(check.problems[0]).toMatchObject({ what: expect.stringMatching(/^libibverbs.so.1 does not load/), fix: expect.stringMatching(/^apt-get install rdma-core/) });
  }, SLOW);
});
