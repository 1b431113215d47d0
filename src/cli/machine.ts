import { existsSync, readdirSync } from 'node:fs';

/** This machine's kernel devices as its file system shows them, whatever the backend. */
export interface MachineDevices {
  udmabuf: boolean;
  heaps: string[];
  drm: string[];
  rdma: string[];
}

export function machineDevices(): MachineDevices {
  return {
    udmabuf: existsSync('/dev/udmabuf'),
    heaps: list('/dev/dma_heap'),
    drm: list('/dev/dri').filter((n) => /^(card|renderD)\d+$/.test(n)).map((n) => `/dev/dri/${n}`),
    rdma: list('/sys/class/infiniband'),
  };
}

export function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
