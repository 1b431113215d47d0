import type { IbvDeviceEntry } from '../../seam/backend-verbs';
import { isSystemError } from '../../seam/system-error';
import type { DmaBridge } from '../dmabridge';

/** The RDMA devices, or why there are none, in words for a person. */
export function rdmaDevicesOrWhyNot(dmb: DmaBridge): IbvDeviceEntry[] | string {
  try {
    const devices = dmb.rdmaDevices();
    return devices.length ? devices : 'no RDMA devices (for soft-RoCE: rdma link add rxe0 type rxe netdev lo)';
  } catch (e) {
    if (isSystemError(e) && e.code === 'ENOSYS') return e.message;
    throw e;
  }
}
