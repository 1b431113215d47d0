#!/usr/bin/env node
// Seed 002's story on soft-RoCE: an on-demand MR does not pin its memory, it
// mirrors the process's page tables (HMM: hmm_range_fault and an MMU interval
// notifier). The device faults pages in when RDMA first touches them, and the
// CPU side invalidates its copy when the process drops or unmaps them. Each
// step prints what happened. rxe pages on demand from Linux 7.3; on 6.12 the
// registration is refused and the example says so.
//
//   node dist/examples/hmm-mirror.js                     # open()'s choice
//   node dist/examples/hmm-mirror.js --backend emulator  # an emulated 7.3 machine
//
// (In a project of your own, import from 'dmabridge' and 'dmabridge/emulator'.)
import { fstatSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { parseArgs } from 'node:util';
import { open, type CompletionQueue, type DmaBridge, type MemoryRegion, type QueuePair, type RemoteBuffer } from '../src';
import { controls, createEmulator } from '../emulator';

const PAGE = 4096;
const PAGES = 4;
// One small packet at the start of each page: 7.3.4's rxe copies every
// packet through an on-demand MR to its page's start (README, Two kernels).
const PACKET = 64;

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'auto' }, device: { type: 'string', default: 'rxe0' } } });
const backend = values.backend === 'emulator' ? createEmulator({ kernel: '7.3' }) : (values.backend as 'auto' | 'native');
const dmb = open({ backend });
const emulated = dmb.backend === 'emulator';

/** Host memory the process's MRs pin: VmPin, as the kernel counts it. */
function pinned(): number {
  if (emulated) return controls(dmb).pinnedBytes(dmb);
  const m = /^VmPin:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Where the pages are. The kernel shows the file's pages (fstat's blocks),
 * not the device's page table; the emulator shows the device's mirror.
 */
function pages(memfdFd: number, mr?: MemoryRegion): string {
  if (!emulated) return `${(fstatSync(memfdFd).blocks * 512) / PAGE} of ${PAGES} pages in the file`;
  const odp = mr && controls(dmb).rdma.device(values.device).mr(mr.lkey).odp;
  return odp ? `the device's mirror holds ${odp.present} of ${odp.pages} pages (${odp.faults} faulted in, ${odp.invalidations} invalidated)` : 'no mirror yet';
}

async function complete(cq: CompletionQueue): Promise<string> {
  return (await cq.next({ timeout: 10_000 })).status;
}

function post(qp: QueuePair, opcode: 'write' | 'read', local: MemoryRegion, localOffset: number, remote: RemoteBuffer, remoteOffset: number): void {
  qp.postSend([{ opcode, local: { mr: local, offset: localOffset, length: PACKET }, remote: { ...remote, offset: remoteOffset }, id: 1n }]);
}

const hex = (b: number) => `0x${b.toString(16)}`;

async function main(bridge: DmaBridge): Promise<void> {
  using dev = bridge.openRdma(values.device);
  console.log(`hmm-mirror: ${emulated ? 'the emulator, imitating Linux 7.3' : `Linux ${release()}`}; ${dev.name} pages on demand: ${dev.onDemandPaging ? 'yes' : 'no'}`);
  using pd = dev.allocPd();
  using cq = dev.createCq(16);
  const a = pd.createQp(cq), b = pd.createQp(cq);
  a.connect(b.endpoint());
  b.connect(a.endpoint());

  using memfd = bridge.createMemfd(PAGES * PAGE);
  const mapping = memfd.map('rw');
  console.log(`1. mapped ${PAGES} pages of a fresh memfd, never touched: ${pages(memfd.fd)}; ${pinned()} bytes pinned`);

  let mirror: MemoryRegion;
  try {
    mirror = pd.register(mapping, { access: ['local-write', 'remote-write', 'remote-read', 'on-demand'] });
  } catch (e) {
    console.log(`2. registering them on demand was refused: ${(e as Error).message}`);
    return;
  }
  console.log(`2. registered them on demand: ${pinned()} bytes pinned; ${pages(memfd.fd, mirror)}`);
  // What a peer would be given: the address and key stay valid while the MR does.
  const target = mirror.remote();

  // The source of the writes is ordinary, pinned memory: one page.
  const mine = new Uint8Array(new SharedArrayBuffer(PAGE));
  using source = pd.register(mine, { access: ['local-write'] });
  const statuses: string[] = [];
  for (let p = 0; p < PAGES; p++) {
    mine.fill(0x21 + p, 0, PACKET);
    post(a, 'write', source, 0, target, p * PAGE);
    statuses.push(await complete(cq));
  }
  const starts = Array.from({ length: PAGES }, (_, p) => hex(mapping.view[p * PAGE]!));
  console.log(`3. RDMA-wrote a packet into each page: ${statuses.join(', ')}; the CPU reads ${starts.join(' ')}; ${pages(memfd.fd, mirror)}; ${pinned()} bytes pinned, all of them the source's`);

  mapping.discard({ offset: 2 * PAGE, length: PAGE });
  console.log(`4. discarded page 2 (MADV_DONTNEED): the MR's notifier invalidated it; ${pages(memfd.fd, mirror)}`);
  mine.fill(0, 0, PACKET);
  post(a, 'read', source, 0, target, 2 * PAGE);
  const readStatus = await complete(cq);
  console.log(`5. RDMA-read page 2: ${readStatus}, ${hex(mine[0]!)} again (the file kept it, the device faulted it in afresh); ${pages(memfd.fd, mirror)}`);

  // An MR never outlives the memory it maps: unmapping closes it first.
  mapping.unmap();
  post(a, 'write', source, 0, target, 0);
  console.log(`6. unmapped the pages, which closed the MR with them (closed: ${mirror.closed}); an RDMA write with its old key: ${await complete(cq)}`);
  source.close();
  console.log(`7. closed the source: ${pinned()} bytes pinned`);
}

main(dmb)
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => dmb.close());
