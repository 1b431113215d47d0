// The network RDMA ports sit on. Packets are addressed by GID (RoCE puts the
// IP address there), so a QP's peer is found by the destination GID in its
// address vector and the destination QP number. One machine's devices share a
// fabric; machines that share one can reach each other's QPs.
import type { RdmaDevice } from './device';

export class Fabric {
  readonly #devices = new Set<RdmaDevice>();

  attach(device: RdmaDevice): void {
    this.#devices.add(device);
  }

  /** The device that owns `gid`: the sender itself where it does (loopback), else the first other one. */
  route(from: RdmaDevice, gid: Uint8Array): RdmaDevice | undefined {
    if (from.ownsGid(gid)) return from;
    for (const device of this.#devices) if (device !== from && device.ownsGid(gid)) return device;
    return undefined;
  }
}
