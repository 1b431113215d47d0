import { open } from '../open';
import { DmaBridge } from '../dmabridge';
import { type Command, type Values } from './command';
import { bytes, rate } from './format';
import { rdmaDevicesOrWhyNot } from './rdma-probe';
import { loopbackPair } from '../verbs/loopback';

const SIZE = 4 << 20;

export const demo: Command = {
  summary: 'show the dma-buf layer at work (emulator unless the kernel has the devices)',
  options: {},
  help: `The main job, step by step: a udmabuf filled through its CPU view and read
back through its memfd, a zeroed dma-heap buffer, a vgem fence that a wait
follows without blocking, and 4 MiB RDMA-written between two queue pairs and
checked byte by byte. A step the machine cannot do says why and is skipped.`,
  run,
};

type Step = (text: string) => void;

async function run(values: Values): Promise<number> {
  using dmb = open({ backend: values.backend });
  const steps: string[] = [];
  const step: Step = values.json ? (text) => steps.push(text) : (text) => console.log(`- ${text}`);
  if (!values.json) console.log(`dmabridge demo on the ${dmb.backend} backend (${dmb.reason})\n`);
  udmabuf(dmb, step);
  heap(dmb, step);
  await fences(dmb, step);
  await rdma(dmb, step);
  if (values.json) console.log(JSON.stringify({ backend: dmb.backend, reason: dmb.reason, steps, ok: true }, null, 2));
  else console.log('\ndemo finished: every check passed');
  return 0;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
}

function udmabuf(dmb: DmaBridge, step: Step): void {
  using buf = dmb.createUdmabuf(SIZE);
  buf.setName('dmabridge-demo');
  const info = buf.info();
  step(`udmabuf of ${bytes(buf.size)} from a sealed memfd: exporter '${info.exporter}', name '${info.name}'`);

  using map = buf.map('rw');
  const start = process.hrtime.bigint();
  {
    using _ = map.begin('write');
    for (let i = 0; i < map.view.length; i += 4096) map.view.fill(i / 4096 & 0xff, i, i + 4096);
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  step(`filled it through its zero-copy CPU view (SYNC_START/END write) at ${rate(SIZE, secs)}`);

  using memView = buf.memfdRanges![0]!.memfd.map('read');
  check(memView.view[5 * 4096] === 5, 'memfd sees the bytes written through the dma-buf');
  step('read the same bytes back through the memfd pages behind it: they alias');
}

function heap(dmb: DmaBridge, step: Step): void {
  if (!dmb.heaps().includes('system')) {
    step('skipped the dma-heap step: no /dev/dma_heap/system on this kernel');
    return;
  }
  using buf = dmb.allocHeap(64 << 10);
  using map = buf.map('read');
  using _ = map.begin('read');
  check(map.view.every((b) => b === 0), 'heap buffers come zeroed');
  step(`allocated ${bytes(buf.size)} from the '${buf.exporter}' heap: zeroed, as the kernel promises`);
}

async function fences(dmb: DmaBridge, step: Step): Promise<void> {
  const vgem = dmb.drmNodes().find((n) => n.driver === 'vgem');
  if (!vgem) {
    step('skipped the fence step: no vgem DRM node (modprobe vgem)');
    return;
  }
  using dev = dmb.openDrm(vgem.path);
  using dumb = dev.createDumb({ width: 256, height: 256, bpp: 32 });
  using buf = dumb.export();
  const fence = dumb.attachFence('write');
  step(`vgem dumb buffer ${dumb.pitch}x256 exported as a dma-buf; a write fence is attached`);
  check(!buf.idle('read'), 'a pending write fence blocks readers');
  using sync = buf.exportSyncFile('read');
  const before = sync.info();
  step(`its sync_file: ${before.fences.map((f) => `${f.driver}/${f.timeline} ${f.status}`).join(', ')}`);
  const idle = buf.waitIdle('read', { timeout: 5000 });
  fence.signal();
  await idle;
  await sync.wait({ timeout: 5000 });
  check(sync.info().status === 'signaled', 'the sync_file signals with the fence');
  step('signalled the fence: the buffer became idle and the sync_file signalled, without blocking the event loop');
}

const CHUNK = 64 << 10;

async function rdma(dmb: DmaBridge, step: Step): Promise<void> {
  const found = rdmaDevicesOrWhyNot(dmb);
  if (typeof found === 'string') {
    step(`skipped the RDMA step: ${found}`);
    return;
  }
  using dev = dmb.openRdma(found[0]!.name);
  using pd = dev.allocPd();
  using cq = dev.createCq(256);
  const { qp: a, peer: z } = loopbackPair(pd, cq);
  step(`opened ${dev.name} (port 1 ${dev.port(1).state}, ${dev.port(1).linkLayer}); connected two RC queue pairs`);

  using src = dmb.createUdmabuf(SIZE);
  using dst = dmb.createUdmabuf(SIZE);
  const fallback = dev.canRegisterDmaBuf ? undefined : 'memfd-pages';
  const srcMr = pd.registerDmaBuf(src, { fallback });
  const dstMr = pd.registerDmaBuf(dst, { fallback, access: ['local-write', 'remote-write'] });
  step(`registered two ${bytes(SIZE)} udmabufs ${fallback ? `through their memfd pages (${dev.name} cannot register dma-bufs)` : 'as dma-buf MRs'}: rkey 0x${dstMr.rkey.toString(16)}`);

  using srcMap = src.map('rw');
  {
    using _ = srcMap.begin('write');
    for (let i = 0; i < srcMap.view.length; i++) srcMap.view[i] = (i * 31 + 7) & 0xff;
  }
  const chunks = SIZE / CHUNK;
  const start = process.hrtime.bigint();
  a.postSend(Array.from({ length: chunks }, (_, i) => ({
    opcode: 'write' as const,
    local: { mr: srcMr, offset: i * CHUNK, length: CHUNK },
    remote: { ...dstMr.remote(), offset: i * CHUNK },
    id: BigInt(i),
    signaled: i === chunks - 1,
  })));
  for (let done = 0; done < chunks;) {
    const wc = await cq.next({ timeout: 30000 });
    if (wc.status !== 'success') throw new Error(`RDMA write ${wc.wrId} completed with ${wc.status}`);
    done = Number(wc.wrId) + 1;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  step(`RDMA-wrote ${bytes(SIZE)} in ${chunks} ${bytes(CHUNK)} writes at ${rate(SIZE, secs)}`);

  using dstMap = dst.map('read');
  using _ = dstMap.begin('read');
  check(Buffer.compare(dstMap.view, srcMap.view) === 0, 'the destination dma-buf holds the pattern');
  step('read the destination back through its dma-buf CPU view: every byte matches');
}
