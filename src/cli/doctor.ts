import { type Command, UsageError, type Values } from './command';
import {
  type Check, cudaCheck, deviceCheck, dmaBufMrCheck, kernelCheck, memlockCheck, nativeCheck, permissionsCheck, rdmaCheck,
  rdmaCmCheck, rdmaCoreCheck, rdmaDevices, vgemCheck,
} from './doctor-checks';

/** What --need may name, and the checks each needs to pass. */
const NEEDS: Record<string, (checks: Map<string, Check>) => Check[]> = {
  native: (c) => [c.get('native')!],
  udmabuf: (c) => [c.get('udmabuf')!, c.get('permissions')!],
  'dma-heap': (c) => [c.get('dma-heap')!, c.get('permissions')!],
  vgem: (c) => [c.get('vgem')!, c.get('permissions')!],
  rdma: (c) => [c.get('rdma-core')!, c.get('rdma')!, c.get('memlock')!, c.get('permissions')!],
  'rdma-cm': (c) => [c.get('rdma-core')!, c.get('rdma-cm')!, c.get('permissions')!],
  'dma-buf-mr': (c) => [c.get('dma-buf-mr')!],
  cuda: (c) => [c.get('cuda')!],
  memlock: (c) => [c.get('memlock')!],
  kernel: (c) => [c.get('kernel')!],
};

export const doctor: Command = {
  summary: 'check this machine for what the native backend needs, with the fix for each gap',
  options: { need: { type: 'string' }, memlock: { type: 'string' } },
  help: `Checks this machine (never the emulator) and says, for each gap, the exact fix:
the native addon (prebuild or local build) and the backend auto picks, the
kernel's modules (udmabuf, vgem, crc32_generic, rdma_rxe, ib_uverbs,
rdma_ucm) and system dma-heap, device-node permissions, ulimit -l, rdma-core,
the RDMA devices (port, GID, dma-buf MRs), rdma_cm, and CUDA.

  --need LIST     comma-separated: ${Object.keys(NEEDS).join(', ')};
                  exit 1 when one of them is missing (default: exit 0, report only)
  --memlock MiB   host memory you mean to register (default 64): the ulimit -l it needs`,
  run,
};

function run(values: Values): number {
  const needs = typeof values.need === 'string' ? values.need.split(',').filter(Boolean) : [];
  const unknown = needs.filter((n) => !Object.hasOwn(NEEDS, n));
  if (unknown.length) throw new UsageError(`--need: unknown '${unknown.join("', '")}' (known: ${Object.keys(NEEDS).join(', ')})`);
  const memlockMiB = Number(values.memlock ?? 64);
  if (!Number.isInteger(memlockMiB) || memlockMiB < 1) throw new UsageError(`--memlock must be a positive whole number of MiB, got '${values.memlock}'`);

  const devices = rdmaDevices();
  const list: Check[] = [
    nativeCheck(),
    kernelCheck(),
    deviceCheck('udmabuf', '/dev/udmabuf', 'modprobe udmabuf'),
    deviceCheck('dma-heap', '/dev/dma_heap/system', 'a kernel built with CONFIG_DMABUF_HEAPS_SYSTEM=y'),
    vgemCheck(),
    permissionsCheck(),
    memlockCheck(memlockMiB),
    rdmaCoreCheck(),
    rdmaCheck(devices),
    dmaBufMrCheck(devices),
    rdmaCmCheck(),
    cudaCheck(),
  ];
  const checks = new Map(list.map((c) => [c.id, c]));
  const unmet = needs.filter((n) => NEEDS[n]!(checks).some((c) => !c.ok));
  if (values.json) {
    console.log(JSON.stringify({ ok: unmet.length === 0, needs, unmet, checks: list }, null, 2));
  } else {
    for (const c of list) {
      console.log(`${c.ok ? 'ok  ' : 'MISS'}  ${c.id.padEnd(11)} ${c.found}`);
      for (const p of c.problems) console.log(`${' '.repeat(18)}${p.what}\n${' '.repeat(18)}fix: ${p.fix}`);
    }
    if (needs.length) console.log(unmet.length ? `\nmissing what you need: ${unmet.join(', ')}` : `\neverything you need is here: ${needs.join(', ')}`);
  }
  return unmet.length ? 1 : 0;
}
