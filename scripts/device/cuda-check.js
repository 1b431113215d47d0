// The CUDA exporter on a real GPU, through dmabridge's public API: allocates
// GPU memory, exports it as a dma-buf, checks what the kernel says of it
// (size, exp_name nv_dmabuf, mmap refused with 524), passes one to a child
// process over a Unix socket, then allocates and frees a few hundred times and
// checks that no fd and no GPU memory is left behind. Plain JS, so it runs
// with nothing but node, the built addon and dist/:
//
//   DMABRIDGE_NATIVE_PATH=$PWD/build/Release/dmabridge.node node scripts/device/cuda-check.js [rounds]
//
// DMABRIDGE_DIST points at another dist/ (default: the repository's). On a
// GPU machine without node: prepare.sh here, then run.sh there. Exits 1 if
// any check failed.
'use strict';

const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const dist = path.resolve(process.env.DMABRIDGE_DIST ?? path.join(__dirname, '../../dist'));
const { open } = require(path.join(dist, 'src'));
const MiB = 1024 * 1024;

let failures = 0;
function check(name, cond, detail = '') {
  if (!cond) failures++;
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}

// Runs one group of checks; an unexpected throw fails it without ending the run.
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(`${name}: no unexpected error`, false, `${e.code ?? e.name}: ${e.message}`);
  }
}

function threw(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

// The child: connects to the parent's socket, receives the dma-buf, reports.
async function child(socketPath) {
  const dmb = open({ backend: 'native' });
  const channel = dmb.connectUnix(socketPath);
  const buf = await channel.receiveDmaBuf({ timeout: 10000 });
  const { size, exporter } = buf.info();
  await channel.send(JSON.stringify({ size: String(size), exporter, pid: process.pid }));
  dmb.close();
}

async function passToChild(dmb, buf) {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmabridge-'));
  const socketPath = path.join(dir, 'sock');
  const listener = dmb.listenUnix(socketPath);
  try {
    const proc = spawn(process.execPath, [__filename, '--child', socketPath], { stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    const channel = await listener.accept({ timeout: 10000 });
    await channel.sendDmaBuf(buf);
    const reply = await channel.receive({ timeout: 10000 });
    channel.close();
    check('the child exited cleanly', (await exited) === 0);
    return JSON.parse(Buffer.from(reply.data).toString());
  } finally {
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const rounds = Number(process.argv[2] ?? 300);
  const dmb = open({ backend: 'native' });
  const seam = dmb.seam;
  const gpus = dmb.cudaDevices();
  console.log(`GPUs: ${JSON.stringify(gpus)}`);
  check('GPU 0 can export dma-bufs', gpus[0]?.dmaBuf === true);

  const buf = dmb.allocCuda(4 * MiB);
  try {
    const info = buf.info();
    console.log(`dma-buf: fd ${buf.fd}, dptr 0x${buf.dptr.toString(16)}, fdinfo ${JSON.stringify({ ...info, size: String(info.size) })}`);
    check('size is 4 MiB (lseek and fdinfo)', buf.size === 4n * BigInt(MiB) && info.size === buf.size, String(info.size));
    check("exporter is 'nv_dmabuf'", buf.exporter === 'nv_dmabuf', buf.exporter);
    check('the fd is read-write', info.writable);
    const e = threw(() => buf.map('rw'));
    check('map() is refused with ENOTSUPP (errno -524) from mmap', e?.code === 'ENOTSUPP' && e?.errno === -524 && e?.syscall === 'mmap', e && `${e.code} ${e.errno} ${e.syscall}`);
    check('with advice', /does not allow CPU mappings/.test(e?.message ?? ''), e?.message);
    await step('name', () => {
      buf.setName('dmabridge-gpu');
      check('DMA_BUF_SET_NAME works on it', buf.name === 'dmabridge-gpu', buf.name);
    });
    await step('fences', () => {
      check('it is idle for rw (poll)', buf.idle('rw'));
      const sync = buf.exportSyncFile('rw');
      check('DMA_BUF_IOCTL_EXPORT_SYNC_FILE gives a signalled sync_file', sync.info().status === 'signaled', sync.info().status);
      sync.close();
    });
    await step('passing', async () => {
      const got = await passToChild(dmb, buf);
      check('a child process received it over a Unix socket and saw the same buffer', got.size === String(buf.size) && got.exporter === 'nv_dmabuf', JSON.stringify(got));
    });
  } finally {
    buf.close();
  }

  const e1 = threw(() => dmb.allocCuda(MiB, { device: 99 }));
  check('a missing GPU is ENODEV, saying so', e1?.code === 'ENODEV' && /no CUDA GPU 99/.test(e1.message), e1?.message);
  const e2 = threw(() => dmb.allocCuda(0));
  check('size 0 is EINVAL from cuMemAlloc', e2?.code === 'EINVAL' && e2?.syscall === 'cuMemAlloc', e2?.message);
  const e3 = threw(() => dmb.allocCuda(1n << 50n));
  check('too much is ENOMEM, naming the CUDA error', e3?.code === 'ENOMEM' && /CUDA_ERROR_OUT_OF_MEMORY/.test(e3.message), e3?.message);

  const fdsBefore = seam.openFds().length;
  const memBefore = seam.cuMemGetInfo(0);
  const started = process.hrtime.bigint();
  let bad = 0;
  for (let i = 0; i < rounds; i++) {
    const buf = dmb.allocCuda(4 * MiB);
    if (buf.size !== 4n * BigInt(MiB) || buf.exporter !== 'nv_dmabuf' || threw(() => buf.map('read'))?.code !== 'ENOTSUPP') bad++;
    buf.close();
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const fdsAfter = seam.openFds().length;
  const memAfter = seam.cuMemGetInfo(0);
  check(`${rounds} rounds of alloc, export, fdinfo, mmap refusal, close, free`, bad === 0, `${bad} bad, ${(ms / rounds).toFixed(2)} ms per round`);
  check('no fd leaked', fdsAfter === fdsBefore, `${fdsBefore} open before, ${fdsAfter} after`);
  const leaked = memBefore.free - memAfter.free;
  check('no GPU memory leaked', leaked < 4n * BigInt(MiB), `free ${memBefore.free} before, ${memAfter.free} after, of ${memBefore.total}`);

  dmb.close();
  console.log(failures === 0 ? 'all checks passed' : `${failures} checks failed`);
  process.exitCode = failures === 0 ? 0 : 1;
}

(process.argv[2] === '--child' ? child(process.argv[3]) : main()).catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
