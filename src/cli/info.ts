import { existsSync } from 'node:fs';
import { loadNative } from '../native';
import { open } from '../open';
import { type Command, type Values } from './command';
import { bytes, table } from './format';
import { machineDevices } from './machine';
import { rdmaDevicesOrWhyNot } from './rdma-probe';

export const info: Command = {
  summary: 'which backend and addon are in use, and the devices the backend sees',
  options: {},
  help: `Says which backend open() chose and why, whether the native addon loaded
(and from where), and the dma-buf sources, heaps, DRM nodes, RDMA devices and
locked-memory limit the backend sees. On the emulator those are emulated, and
this machine's own devices are listed apart. For what is missing and how to
fix it: dmabridge doctor.`,
  run,
};

function run(values: Values): number {
  using dmb = open({ backend: values.backend });
  const native = loadNative();
  const emulated = dmb.backend === 'emulator';
  const report = {
    backend: dmb.backend,
    emulated,
    reason: dmb.reason,
    addon: native.backend ? { loaded: true, ...native.source } : { loaded: false, error: native.error },
    udmabuf: emulated || existsSync('/dev/udmabuf'),
    heaps: dmb.heaps(),
    drm: dmb.drmNodes(),
    rdma: rdma(dmb),
    memlock: memlock(dmb),
    ...(emulated ? { machine: machineDevices() } : {}),
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  console.log(emulated
    ? `backend: emulator: emulated devices in this process, not this machine's kernel (${report.reason})`
    : `backend: native: this machine's kernel (${report.reason})`);
  console.log(native.backend
    ? `native addon: loaded, ${native.source!.kind} ${native.source!.file}`
    : `native addon: not loaded: ${native.error}`);
  console.log(`\n${emulated ? 'emulated devices' : 'devices'}:`);
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
  console.log(`\nlocked-memory limit (ulimit -l)${emulated ? ', emulated' : ''}: ${report.memlock}`);
  if (report.machine) {
    const m = report.machine;
    console.log(`\nthis machine: /dev/udmabuf ${m.udmabuf ? 'present' : 'absent'}; dma-heaps: ${m.heaps.join(', ') || 'none'}; DRM nodes: ${m.drm.join(', ') || 'none'}; RDMA devices: ${m.rdma.join(', ') || 'none'}`);
    console.log('(dmabridge doctor says what the native backend needs here and how to get it)');
  }
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
