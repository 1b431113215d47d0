// An emulated network: machines on one IPv4 subnet behind one switch, as the
// two-guest set-up of scripts/vm has them (each guest's NIC on a shared link,
// rxe1 on that NIC with the IPv4-mapped GID of its address). The machines
// share one clock, so that timeouts on either side run on one time, and one
// RDMA fabric, so that packets move between their registered memory.
import { Clock } from './clock';
import { ipv4Number } from './rdmacm/address';
import type { CmHost } from './rdmacm/host';
import type { IbDevice } from './verbs/device';
import { Fabric } from './verbs/fabric';
import { isIPv4 } from 'node:net';

export interface NetworkOptions {
  /** Time moves only when a test advances it (any machine's clock: they are one). Default: with real time. */
  manualClock?: boolean;
  /** The subnet, as CIDR. Default '10.99.0.0/24'. */
  subnet?: string;
}

/** What controls(backend).network offers a test. */
export interface NetworkControls {
  /** The machine's cable comes out: its NIC loses carrier (rxe1's port goes down), and nothing reaches it or leaves it. */
  unplug(name: string): void;
  /** The cable goes back in. */
  plug(name: string): void;
}

/** A machine as the network knows it. */
export interface NetworkHost {
  readonly name: string;
  readonly address: string;
  /** The rxe on its NIC. */
  readonly nic: IbDevice;
  readonly cm: CmHost;
}

export class Network implements NetworkControls {
  readonly clock: Clock;
  readonly fabric = new Fabric();
  readonly #base: number;
  readonly #mask: number;
  readonly #hosts = new Map<string, NetworkHost>();

  constructor(options: NetworkOptions = {}) {
    this.clock = new Clock(options.manualClock ?? false);
    const [base, bits] = (options.subnet ?? '10.99.0.0/24').split('/');
    const prefix = Number(bits);
    if (!isIPv4(base) || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) {
      throw new TypeError(`subnet must be an IPv4 CIDR with a prefix of 8 to 30 bits, not ${JSON.stringify(options.subnet)}`);
    }
    this.#mask = (~0 << (32 - prefix)) >>> 0;
    this.#base = (ipv4Number(base) & this.#mask) >>> 0;
  }

  /** Whether `address` (IPv4) is on the subnet, so that its route is the NIC's. */
  onSubnet(address: string): boolean {
    return isIPv4(address) && ((ipv4Number(address) & this.#mask) >>> 0) === this.#base;
  }

  /** Checks that a machine may join as `name` at `address`. */
  checkJoin(name: string, address: string): void {
    if (typeof name !== 'string' || name === '') throw new TypeError('host.name must be a non-empty string');
    if (this.#hosts.has(name)) throw new TypeError(`the network has a machine named '${name}' already`);
    const n = isIPv4(address) ? ipv4Number(address) : NaN;
    const host = (n & ~this.#mask) >>> 0;
    if (!this.onSubnet(address) || host === 0 || host === (~this.#mask >>> 0)) {
      throw new TypeError(`host.address must be a host address on the network's subnet, not ${JSON.stringify(address)}`);
    }
    if (this.hostAt(address)) throw new TypeError(`${address} belongs to another machine on the network`);
  }

  join(host: NetworkHost): void {
    this.#hosts.set(host.name, host);
    this.fabric.wire(host.nic);
  }

  hostAt(address: string): NetworkHost | undefined {
    for (const host of this.#hosts.values()) if (host.address === address) return host;
    return undefined;
  }

  unplug(name: string): void {
    this.#host(name).nic.setPortState('down');
  }

  plug(name: string): void {
    this.#host(name).nic.setPortState('active');
  }

  #host(name: string): NetworkHost {
    const host = this.#hosts.get(name);
    if (!host) throw new TypeError(`the network has no machine named '${name}' (it has ${[...this.#hosts.keys()].join(', ') || 'none'})`);
    return host;
  }
}

/** A new network for createEmulator({ network }) to put machines on. */
export function createNetwork(options: NetworkOptions = {}): Network {
  return new Network(options);
}
