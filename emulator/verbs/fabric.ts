// The wire RDMA ports sit on. Packets are addressed by GID (RoCE puts the IP
// address there), so a QP's peer is found by the destination GID in its
// address vector and the destination QP number. A machine's own devices reach
// each other (loopback, and its devices among themselves); a device wired to
// an emulated network (the rxe on a machine's NIC) also reaches the wired
// devices of the other machines there. One fabric spans one network; a machine
// on no network has a fabric of its own.
import type { IbDevice } from './device';

export class Fabric {
  readonly #devices = new Set<IbDevice>();
  readonly #wired = new Set<IbDevice>();

  attach(device: IbDevice): void {
    this.#devices.add(device);
  }

  /** `device` is gone (its removal finished): nothing routes to it any more. */
  detach(device: IbDevice): void {
    this.#devices.delete(device);
    this.#wired.delete(device);
  }

  /** `device` (attached already) sits on the network's wire. */
  wire(device: IbDevice): void {
    this.#wired.add(device);
  }

  /**
   * The device that owns `gid`: the sender itself where it does (loopback),
   * else another of its machine's, else (from a wired device) a wired one of
   * another machine. Whether a packet gets there is the ports' business.
   */
  route(from: IbDevice, gid: Uint8Array): IbDevice | undefined {
    if (from.ownsGid(gid)) return from;
    for (const device of this.#devices) {
      if (device !== from && device.machine === from.machine && device.ownsGid(gid)) return device;
    }
    if (!this.#wired.has(from)) return undefined;
    for (const device of this.#wired) if (device.machine !== from.machine && device.ownsGid(gid)) return device;
    return undefined;
  }
}
