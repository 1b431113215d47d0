import { existsSync } from 'node:fs';
import { open } from '../open';
import { table } from './format';

export function info(json: boolean): number {
  using dmb = open();
  const report = {
    backend: dmb.backend,
    reason: dmb.reason,
    udmabuf: dmb.backend === 'emulator' || existsSync('/dev/udmabuf'),
    heaps: dmb.heaps(),
    drm: dmb.drmNodes(),
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
  return 0;
}
