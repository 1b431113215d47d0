// A machine's connection manager, and its NIC where it is on a network: rxe1
// on a virtio-style NIC with the machine's address, as guest-run.sh sets up
// `rdma link add rxe1 type rxe netdev <nic>` in the two-guest VM.
import type { Machine } from '../machine';
import type { Network } from '../network';
import type { RdmaMachine } from '../verbs/install';
import { eui64, guidOf, ipv4Gid, linkLocalGid, type ProfileKind } from '../verbs/profiles';
import { ipv4Bytes } from './address';
import { RDMA_CM_PATH } from './calls';
import { RdmaCmNode } from './channel';
import { CmHost } from './host';

/** Where a machine sits on a network. */
export interface HostOptions {
  name: string;
  /** Its IPv4 address on the network's subnet. */
  address: string;
  /** The RDMA device on its NIC: 'rxe' (rxe1, as the two-guest VM has it; the default) or another profile, e.g. 'mlx5' for dma-buf MRs. */
  nic?: ProfileKind;
}

/** A 1500-byte Ethernet MTU: the largest IB MTU below it (iboe_get_mtu). */
const MTU_1024 = 3;

export function installRdmaCm(machine: Machine, rdma: RdmaMachine, network?: Network, host?: HostOptions): void {
  const cm = new CmHost(machine, rdma);
  machine.addDevice(RDMA_CM_PATH, new RdmaCmNode(machine, cm));
  if (!network) {
    if (host) throw new TypeError('host needs a network: createEmulator({ network: createNetwork(), host })');
    return;
  }
  if (!host) throw new TypeError("a machine on a network needs host: { name, address }, e.g. { name: 'a', address: '10.99.0.1' }");
  network.checkJoin(host.name, host.address);
  const ip = ipv4Bytes(host.address);
  // A locally administered MAC made of the address, as qemu's 52:54:00 prefix with the host's last three bytes.
  const mac = [0x52, 0x54, 0x00, ip[1], ip[2], ip[3]];
  const nic = rdma.install(host.nic ?? 'rxe', (p) => ({
    ...p,
    guid: guidOf(eui64(mac)),
    port: { ...p.port, activeMtu: MTU_1024, gids: [linkLocalGid(mac), ipv4Gid(ip)] },
  }));
  const me = { name: host.name, address: host.address, nic, cm };
  cm.network = { net: network, me };
  network.join(me);
}
