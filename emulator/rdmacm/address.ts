// Socket addresses as the connection manager sees them: numeric IPv4 (and the
// two IPv6 addresses a machine here has, '::' and '::1'), each the GID RoCE
// gives it.
import { isIPv4, isIPv6 } from 'node:net';
import type { RdmaAddress } from '../../seam/backend-rdmacm';
import { ipv4Gid } from '../verbs/profiles';

/** A copy of `address`, checked as the addon checks it (a TypeError for what is no numeric address). */
export function checkAddress(address: RdmaAddress, name: string): RdmaAddress {
  if (typeof address !== 'object' || address === null) throw new TypeError(`${name} must be { host, port }`);
  const { host, port } = address;
  if (typeof host !== 'string' || !(isIPv4(host) || isIPv6(host))) {
    throw new TypeError(`${name}.host must be a numeric IPv4 or IPv6 address, not ${JSON.stringify(host)}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new TypeError(`${name}.port must be an integer from 0 to 65535`);
  return { host: isIPv6(host) ? normalizeV6(host) : host, port };
}

export function family(host: string): 4 | 6 {
  return isIPv4(host) ? 4 : 6;
}

/**
 * cma_any_addr: the zero address, and the loopback ones, which rdma_cm
 * counts as wildcards too (cma_loopback_addr): binding 127.0.0.1 binds no
 * device, and shares its port with nobody.
 */
export function isAny(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || isLoopback(host);
}

export function isLoopback(host: string): boolean {
  return host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

export function anyOf(fam: 4 | 6): string {
  return fam === 4 ? '0.0.0.0' : '::';
}

/** cma_set_loopback. */
export function loopbackOf(fam: 4 | 6): string {
  return fam === 4 ? '127.0.0.1' : '::1';
}

/** rdma_ip2gid: the GID a RoCE port lists for the address. */
export function gidOf(host: string): Uint8Array {
  if (isIPv4(host)) return ipv4Gid(ipv4Bytes(host));
  const gid = new Uint8Array(16);
  if (host === '::1') gid[15] = 1;
  else if (host !== '::') throw new RangeError(`the emulator has no IPv6 address ${host}`);
  return gid;
}

export function ipv4Bytes(host: string): number[] {
  return host.split('.').map(Number);
}

export function ipv4Number(host: string): number {
  return ipv4Bytes(host).reduce((n, b) => n * 256 + b, 0);
}

/** The two IPv6 addresses modelled, spelled one way. */
function normalizeV6(host: string): string {
  const h = host.toLowerCase();
  if (/^[0:]+$/.test(h)) return '::';
  if (/^[0:]+1$/.test(h) && h.endsWith(':1')) return '::1';
  return h;
}
