import { existsSync } from 'node:fs';
import { open } from '../open';
import { bytes, table } from './format';
import { rdmaDevicesOrWhyNot } from './rdma-probe';

export function info(json: boolean): number {
  using dmb = open();
  const report = {
    backend: dmb.backend,
    reason: dmb.reason,
    udmabuf: dmb.backend === 'emulator' || existsSync('/dev/udmabuf'),
    heaps: dmb.heaps(),
    drm: dmb.drmNodes(),
    rdma: rdma(dmb),
    memlock: memlock(dmb),
  };
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  console.log(`backend: ${report.backend} (${report.reason})\n`);
  const rows = [
    ['udmabuf', '/dev/udmabuf', report.udmabuf ? 'present' : 'absent (modprobe udmabuf)'],
    ...report.heaps.map((h) => ['dma-heap', `/dev/dma_heap/${h}`, 'present']),
    ...report.drm.map((n) => ['drm', n.path, n.driver ?? `cannot open: ${n.error}`]),
  ];
  console.log(table(['kind', 'path', 'state'], rows));
  console.log();
  if (typeof report.rdma === 'string') {
    console.log(`RDMA: ${report.rdma}`);
  } else {
    console.log(table(['rdma device', 'port 1', 'link', 'mtu', 'dma-buf MRs', 'ODP'], report.rdma.map((d) => [
      d.name, d.port.state, d.port.linkLayer, String(d.port.mtu), d.dmaBufMr ? 'yes' : 'no', d.odp ? 'yes' : 'no',
    ])));
  }
  console.log(`\nlocked-memory limit (ulimit -l): ${report.memlock}`);
  return 0;
}

function rdma(dmb: ReturnType<typeof open>) {
  const found = rdmaDevicesOrWhyNot(dmb);
  if (typeof found === 'string') return found;
  return found.map((entry) => {
    using dev = dmb.openRdma(entry.name);
    return { name: entry.name, port: dev.port(1), dmaBufMr: dev.canRegisterDmaBuf, odp: dev.onDemandPaging };
  });
}

function memlock(dmb: ReturnType<typeof open>): string {
  try {
    const { soft } = dmb.seam.getMemlockLimit();
    return soft === 2n ** 64n - 1n ? 'unlimited' : bytes(soft);
  } catch (e) {
    return `unknown (${(e as Error).message})`;
  }
}
