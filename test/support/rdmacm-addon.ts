// The native backend, the built addon's path (for child processes and
// workers), and the address an rdma_cm test can connect to itself on.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../../seam/backend';
import { loadNative } from '../../src/native';


/** The file the loader picked (DMABRIDGE_NATIVE_PATH, a prebuild or the local build). */
export const addonPath = loadNative().source?.file ?? '';

export function loadAddon(): { addon: Backend | null; reason: string } {
  const { backend, error } = loadNative();
  return backend ? { addon: backend, reason: '' } : { addon: null, reason: error ?? 'the native backend did not load' };
}

export const librdmacm = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']
  .map((dir) => join(dir, 'librdmacm.so.1'))
  .find((file) => existsSync(file));

/**
 * An IPv4 address of a network interface that an RDMA device sits on, other
 * than lo: rdma_cm cannot route over rxe on lo (rdma_resolve_route gives
 * ENODEV on 6.12), but connects to its own NIC address, which the device
 * loops back. In the kernel VM that is rxe1 on eth0 (test:kernel boots the
 * guest with a NIC). Null where there is none.
 */
export function selfAddress(): { host: string; cidr: string } | null {
  const root = '/sys/class/infiniband';
  if (!existsSync(root)) return null;
  const interfaces = networkInterfaces();
  for (const device of readdirSync(root).sort()) {
    const ndevs = join(root, device, 'ports/1/gid_attrs/ndevs');
    if (!existsSync(ndevs)) continue;
    for (const entry of readdirSync(ndevs)) {
      let netdev = '';
      try {
        netdev = readFileSync(join(ndevs, entry), 'utf8').trim();
      } catch {
        continue;  // an unused GID slot reads as EINVAL
      }
      if (netdev === 'lo') continue;
      const v4 = interfaces[netdev]?.find((a) => a.family === 'IPv4' && !a.internal);
      if (v4?.cidr) return { host: v4.address, cidr: v4.cidr };
    }
  }
  return null;
}

/** Whether the routing table has a default route (then an address off every subnet still routes somewhere). */
export function hasDefaultRoute(): boolean {
  return readFileSync('/proc/net/route', 'utf8').split('\n').slice(1).some((line) => line.split('\t')[1] === '00000000');
}

/** The fds this process has open, with what each is. */
export function openFds(): string[] {
  const fds: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      fds.push(`${fd} ${readlinkSync(`/proc/self/fd/${fd}`)}`);
    } catch {
      // the directory's own fd, closed once read
    }
  }
  return fds.sort();
}
