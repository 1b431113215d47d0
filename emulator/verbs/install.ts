// The RDMA devices of an emulated machine, and the hooks tests reach them by.
import type { Machine } from '../machine';
import { IbDevice, UverbsDevice } from './device';
import { Fabric } from './fabric';
import { DeviceProfile, PROFILES, ProfileKind } from './profiles';

/** What controls(backend).rdma offers a test. */
export interface RdmaControls {
  /** The device by name (rxe0, mlx5_0, efa_0…): e.g. device('rxe0').setPortState('down'). */
  device(name: string): IbDevice;
}

const NAME_PREFIX: Record<ProfileKind, string> = { rxe: 'rxe', mlx5: 'mlx5_', efa: 'efa_' };

/** A machine's devices, numbered per kind, each with its uverbs node, in the order libibverbs lists them. */
export class RdmaMachine implements RdmaControls {
  readonly devices: IbDevice[] = [];
  readonly #counts: Partial<Record<ProfileKind, number>> = {};

  constructor(private readonly machine: Machine, readonly fabric: Fabric) {}

  /** Adds the next device of `kind`; `adapt` changes its profile (its port's addresses, say). */
  add(kind: ProfileKind, adapt: (profile: DeviceProfile) => DeviceProfile = (p) => p): IbDevice {
    const n = this.#counts[kind] ?? 0;
    this.#counts[kind] = n + 1;
    const device = new IbDevice(this.machine, adapt(PROFILES[kind](`${NAME_PREFIX[kind]}${n}`)), this.fabric);
    const path = `/dev/infiniband/uverbs${this.devices.length}`;
    this.devices.push(device);
    this.machine.addDevice(path, new UverbsDevice(this.machine, device, path));
    return device;
  }

  device(name: string): IbDevice {
    const device = this.devices.find((d) => d.name === name);
    if (!device) throw new TypeError(`the emulated machine has no RDMA device '${name}' (it has ${this.devices.map((d) => d.name).join(', ') || 'none'})`);
    return device;
  }
}

/** One device per entry of `kinds`, on `fabric` (by default one of the machine's own). */
export function installRdma(machine: Machine, kinds: readonly ProfileKind[], fabric = new Fabric()): RdmaMachine {
  const rdma = new RdmaMachine(machine, fabric);
  for (const kind of kinds) rdma.add(kind);
  return rdma;
}
