// An emulated machine for the rule tests, through the public API: a
// DmaBridge on a fresh emulator, and two QPs of one RDMA device connected to
// each other, which is all RDMA needs to move bytes on one machine.
import { controls, createEmulator, EmulatorControls, EmulatorOptions } from '../../emulator';
import type { Backend } from '../../seam/backend';
import type { CompletionQueue, WorkCompletion } from '../../src/verbs/cq';
import type { MemoryRegion } from '../../src/verbs/mr';
import type { ProtectionDomain } from '../../src/verbs/pd';
import type { QueuePair } from '../../src/verbs/qp';
import type { DmaBridge } from '../../src/dmabridge';
import { bridgeOn } from './backends';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export { PAGE } from './seam-session';

export interface Machine {
  backend: Backend;
  dmb: DmaBridge;
  hooks: EmulatorControls;
}

export function machine(options: EmulatorOptions = {}): Machine {
  const backend = createEmulator(options);
  return { backend, dmb: bridgeOn(backend, 'emulator rule test'), hooks: controls(backend) };
}

export interface Loopback {
  pd: ProtectionDomain;
  cq: CompletionQueue;
  qp: QueuePair;
  /** The QP's peer, held here: a QP nothing refers to is closed by its finalizer. */
  peer: QueuePair;
  /** RDMA-writes `bytes` to `offset` of the MR `target`, from a fresh host MR; the completion. */
  write(target: MemoryRegion, offset: number, bytes: Uint8Array): Promise<WorkCompletion>;
  /** RDMA-reads `length` bytes at `offset` of `source` into fresh host memory. */
  read(source: MemoryRegion, offset: number, length: number): Promise<{ wc: WorkCompletion; bytes: Uint8Array }>;
}

/** Two connected QPs of the device `name`, one PD, one CQ. */
export function loopback(dmb: DmaBridge, name: string): Loopback {
  const dev = dmb.openRdma(name);
  const pd = dev.allocPd();
  const cq = dev.createCq(64);
  const qp = pd.createQp(cq);
  const peer = pd.createQp(cq);
  qp.connect(peer.endpoint());
  peer.connect(qp.endpoint());
  let id = 0n;
  return {
    pd, cq, qp, peer,
    async write(target, offset, bytes) {
      const local = pd.register(bytes);
      qp.postSend([{ opcode: 'write', local: { mr: local }, remote: { ...target.remote(), offset }, id: ++id }]);
      const wc = await cq.next({ timeout: 1000 });
      local.close();
      return wc;
    },
    async read(source, offset, length) {
      const bytes = new Uint8Array(length);
      const local = pd.register(bytes, { access: ['local-write'] });
      qp.postSend([{ opcode: 'read', local: { mr: local }, remote: { ...source.remote(), offset }, id: ++id }]);
      const wc = await cq.next({ timeout: 1000 });
      local.close();
      return { wc, bytes };
    },
  };
}

export function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}
