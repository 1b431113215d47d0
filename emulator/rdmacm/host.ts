// A machine's connection manager (rdma_cm with ib_cm under it): the addresses
// its RDMA devices own, the routes to others, its RDMA_PS_TCP port space, and
// the CM messages it exchanges with other machines.
import type { Machine } from '../machine';
import type { Network, NetworkHost } from '../network';
import { sameGid, type IbDevice } from '../verbs/device';
import type { RdmaMachine } from '../verbs/install';
import { family, gidOf, isAny, loopbackOf } from './address';
import type { CmId } from './id';

/**
 * Where rdma_resolve_addr's route leads: the local device and source
 * address, the destination, and the machine and device that answer there
 * (none: ARP goes unanswered).
 */
export interface Route {
  device: IbDevice;
  src: string;
  dst: string;
  peer: { host: CmHost; device: IbDevice } | undefined;
  /** cma_resolve_loopback's: no netdev is bound, so RoCE has no route to build from it. */
  loopback: boolean;
}

/** inet_get_local_port_range's default. */
const EPHEMERAL = { low: 32768, high: 60999 };

export class CmHost {
  /** The ids bound to each port (struct rdma_bind_list), listeners and active ids alike. */
  readonly ports = new Map<number, Set<CmId>>();
  /** The passive ids made for connection requests, by the requesting id: a repeated REQ finds its connection. */
  readonly passive = new Map<CmId, CmId>();
  #lastPort = 0;
  network: { net: Network; me: NetworkHost } | undefined;

  constructor(readonly machine: Machine, readonly rdma: RdmaMachine) {}

  /** The device whose port lists the address's GID (cma_acquire_dev_by_src_ip). */
  deviceOf(host: string): IbDevice | undefined {
    // The machines here have IPv6 only on lo, whose addresses count as wildcards.
    if (isAny(host) || family(host) === 6) return undefined;
    const gid = gidOf(host);
    return this.rdma.devices.find((d) => d.profile.port.gids.some((g) => sameGid(g, gid)));
  }

  /**
   * The route to `dst`. A wildcard or loopback destination is
   * cma_resolve_loopback's: the first device with an active port, with no
   * netdev. Another address of the machine stays on it (over lo, to the
   * device that has the address), the network's subnet goes out of the NIC,
   * anything else has no route.
   */
  route(dst: string, fam: 4 | 6): Route | 'ENETUNREACH' | 'ENODEV' {
    if (isAny(dst)) {
      const device = this.rdma.devices.find((d) => d.portActive) ?? this.rdma.devices[0];
      if (!device) return 'ENODEV';
      return { device, src: loopbackOf(fam), dst, peer: { host: this, device }, loopback: true };
    }
    const local = this.deviceOf(dst);
    if (local) return { device: local, src: dst, dst, peer: { host: this, device: local }, loopback: false };
    const network = this.network;
    if (!network || !network.net.onSubnet(dst)) return 'ENETUNREACH';
    const there = network.net.hostAt(dst);
    const answers = there && network.me.nic.portActive && there.nic.portActive;
    return {
      device: network.me.nic, src: network.me.address, dst,
      peer: answers ? { host: there.cm, device: there.nic } : undefined, loopback: false,
    };
  }

  /**
   * A CM message (a MAD) from `from` to `to`: it arrives on a later turn of
   * the event loop, or is lost where either port is down then.
   */
  send(from: IbDevice, to: IbDevice, deliver: () => void): void {
    setImmediate(() => {
      if (from.portActive && to.portActive) deliver();
    });
  }

  /** cma_check_port with reuseaddr off: a wildcard shares a port with nobody, an address with no other id on it. */
  checkPort(port: number, id: CmId): 'EADDRINUSE' | 'EADDRNOTAVAIL' | undefined {
    for (const other of this.ports.get(port) ?? []) {
      if (other === id || other.family !== id.family) continue;
      if (isAny(id.local.host) || isAny(other.local.host)) return 'EADDRNOTAVAIL';
      if (other.local.host === id.local.host) return 'EADDRINUSE';
    }
    return undefined;
  }

  /** cma_alloc_any_port: from a random start, the next port that is free, skipping the last one given. */
  anyPort(id: CmId): number | undefined {
    const count = EPHEMERAL.high - EPHEMERAL.low + 1;
    let port = EPHEMERAL.low + Math.floor(Math.random() * count);
    for (let i = 0; i < count; i++, port = port === EPHEMERAL.high ? EPHEMERAL.low : port + 1) {
      if (port === this.#lastPort) continue;
      if (!this.#portShared(port, id)) {
        this.#lastPort = port;
        return port;
      }
    }
    return undefined;
  }

  takePort(port: number, id: CmId): void {
    let owners = this.ports.get(port);
    if (!owners) this.ports.set(port, (owners = new Set()));
    owners.add(id);
  }

  releasePort(port: number, id: CmId): void {
    const owners = this.ports.get(port);
    owners?.delete(id);
    if (owners?.size === 0) this.ports.delete(port);
  }

  /** The listener a REQ to `host`:`port` arriving on `device` finds (cma_find_listener): one bound there, or to the wildcard. */
  listener(host: string, port: number, device: IbDevice): CmId | undefined {
    for (const id of this.ports.get(port) ?? []) {
      if (id.state !== 'listen') continue;
      if (isAny(id.local.host) || (id.local.host === host && id.device === device)) return id;
    }
    return undefined;
  }

  /** cma_port_is_unique, for an id that has no destination yet: any other owner makes the port taken. */
  #portShared(port: number, id: CmId): boolean {
    return [...(this.ports.get(port) ?? [])].some((other) => other !== id);
  }
}
