// The RDMA devices of an emulated machine, and the hooks tests reach them by.
import type { Machine } from '../machine';
import { IbDevice, UverbsDevice } from './device';
import { Fabric } from './fabric';
import { DeviceProfile, PROFILES, ProfileKind } from './profiles';

/** What controls(backend).rdma offers a test. */
export interface RdmaControls {
  /** The device by name (rxe0, mlx5_0, efa_0…): e.g. device('rxe0').setPortState('down'). */
  device(name: string): IbDevice;
  /**
   * `rdma link delete <name>` of an rxe device, as Linux 6.12 does it (rxe
   * has no disassociate_ucontext): the device leaves the device list at once
   * and can no longer be opened, but nothing open on it is revoked: no async
   * event comes, and every verb keeps working. The promise settles, as the
   * delete returns, once every process has closed its last file of the
   * device (its contexts, librdmacm's included).
   */
  remove(name: string): Promise<void>;
  /** A device of `kind` appears (`rdma link add <name> type rxe netdev lo` for rxe); its name is the kind's next by default. */
  add(kind: ProfileKind, name?: string): IbDevice;
}

const NAME_PREFIX: Record<ProfileKind, string> = { rxe: 'rxe', mlx5: 'mlx5_', efa: 'efa_' };
const UVERBS = '/dev/infiniband/uverbs';

/** A machine's devices, numbered per kind, each with its uverbs node, in the order libibverbs lists them. */
export class RdmaMachine implements RdmaControls {
  readonly devices: IbDevice[] = [];
  readonly #counts: Partial<Record<ProfileKind, number>> = {};
  readonly #nodes = new Map<IbDevice, { kind: ProfileKind; node: UverbsDevice }>();
  /** Names of devices whose removal waits for their files to close: still registered, so not to be taken. */
  readonly #removing = new Set<string>();

  constructor(private readonly machine: Machine, readonly fabric: Fabric) {}

  /** Adds the next device of `kind`; `adapt` changes its profile (its port's addresses, say). */
  install(kind: ProfileKind, adapt: (profile: DeviceProfile) => DeviceProfile = (p) => p, name?: string): IbDevice {
    const n = this.#counts[kind] ?? 0;
    this.#counts[kind] = n + 1;
    name ??= `${NAME_PREFIX[kind]}${n}`;
    if (this.#removing.has(name) || this.devices.some((d) => d.name === name)) {
      throw new TypeError(`the emulated machine has an RDMA device named '${name}' already`);
    }
    const device = new IbDevice(this.machine, adapt(PROFILES[kind](name, this.machine)), this.fabric);
    // The lowest free uverbs number, as the kernel's ida hands them out.
    const taken = new Set([...this.#nodes.values()].map(({ node }) => node.path));
    let i = 0;
    while (taken.has(`${UVERBS}${i}`)) i++;
    const node = new UverbsDevice(this.machine, device, `${UVERBS}${i}`);
    this.devices.push(device);
    this.#nodes.set(device, { kind, node });
    this.machine.addDevice(node.path, node);
    return device;
  }

  add(kind: ProfileKind, name?: string): IbDevice {
    if (!Object.hasOwn(PROFILES, kind)) throw new TypeError(`kind must be one of ${Object.keys(PROFILES).join(', ')}`);
    if (name !== undefined && (typeof name !== 'string' || !/^[\w.-]{1,63}$/.test(name))) throw new TypeError('name must be a device name (letters, digits, _ . -)');
    return this.install(kind, undefined, name);
  }

  device(name: string): IbDevice {
    const device = this.devices.find((d) => d.name === name);
    if (!device) throw new TypeError(`the emulated machine has no RDMA device '${name}' (it has ${this.devices.map((d) => d.name).join(', ') || 'none'})`);
    return device;
  }

  remove(name: string): Promise<void> {
    const device = this.device(name);
    const { kind, node } = this.#nodes.get(device)!;
    // mlx5 and efa have disassociate_ucontext (DEVICE_FATAL, verbs fail): not modelled.
    if (kind !== 'rxe') throw new TypeError(`removal is modelled for rxe devices only, not ${name}`);
    this.machine.removeDevice(node.path);
    this.devices.splice(this.devices.indexOf(device), 1);
    this.#nodes.delete(device);
    this.#removing.add(name);
    return node.idle().then(() => {
      this.fabric.detach(device);
      this.#removing.delete(name);
    });
  }
}

/** One device per entry of `kinds`, on `fabric` (by default one of the machine's own). */
export function installRdma(machine: Machine, kinds: readonly ProfileKind[], fabric = new Fabric()): RdmaMachine {
  const rdma = new RdmaMachine(machine, fabric);
  for (const kind of kinds) rdma.install(kind);
  return rdma;
}
