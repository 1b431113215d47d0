// The RDMA devices of an emulated machine, and the hooks tests reach them by.
import type { Kernel } from '../kernel';
import { RdmaDevice, UverbsDevice } from './device';
import { Fabric } from './fabric';
import { PROFILES, ProfileKind } from './profiles';

/** What controls(backend).rdma offers a test. */
export interface RdmaControls {
  /** The device by name (rxe0, mlx5_0, efa_0…): e.g. device('rxe0').setPortState('down'). */
  device(name: string): RdmaDevice;
}

const NAME_PREFIX: Record<ProfileKind, string> = { rxe: 'rxe', mlx5: 'mlx5_', efa: 'efa_' };

/** One device per entry of `kinds`, numbered per kind, on a fabric of their own. */
export function installRdma(kernel: Kernel, kinds: readonly ProfileKind[]): RdmaControls {
  const fabric = new Fabric();
  const devices = new Map<string, RdmaDevice>();
  const counts: Partial<Record<ProfileKind, number>> = {};
  kinds.forEach((kind, i) => {
    const n = counts[kind] ?? 0;
    counts[kind] = n + 1;
    const device = new RdmaDevice(kernel, PROFILES[kind](`${NAME_PREFIX[kind]}${n}`), fabric);
    devices.set(device.name, device);
    const path = `/dev/infiniband/uverbs${i}`;
    kernel.addDevice(path, new UverbsDevice(kernel, device, path));
  });
  return {
    device(name: string): RdmaDevice {
      const device = devices.get(name);
      if (!device) throw new TypeError(`the emulated machine has no RDMA device '${name}' (it has ${[...devices.keys()].join(', ') || 'none'})`);
      return device;
    },
  };
}
