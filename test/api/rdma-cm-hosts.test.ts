// The two-host cases of test/cluster (run there between two real kernels by
// npm run test:cluster), here between two emulated machines on one emulated
// network, with both halves in this process.
import { describe, expect, it } from 'vitest';
import { controls, createEmulator, createNetwork, KERNELS, type KernelVersion } from '../../emulator';
import { decodeRemoteBuffer, encodeRemoteBuffer } from '../../src';
import type { DmaBridge } from '../../src/dmabridge';
import { cases, type HostContext } from '../cluster/cases';
import { memoryRendezvous } from '../cluster/rendezvous';
import { bridgeOn } from '../support/backends';

const A = '10.99.0.1';
const B = '10.99.0.2';

function host(network: ReturnType<typeof createNetwork>, name: string, address: string, kernel: KernelVersion) {
  const backend = createEmulator({ network, host: { name, address }, kernel });
  return { backend, dmb: bridgeOn(backend, `emulated host ${name}`) };
}

describe.each(KERNELS)('two hosts [emulator: two machines of Linux %s on one emulated network]', (kernel) => {
  for (const c of cases) {
    it(c.name, async () => {
      const network = createNetwork();
      const a = host(network, 'a', A, kernel);
      const b = host(network, 'b', B, kernel);
      const [meetA, meetB] = memoryRendezvous();
      const ctx = (self: typeof a, address: string, peer: string, meet: typeof meetA): HostContext => ({
        dmb: self.dmb, self: address, peer, meet,
        pinned: () => controls(self.backend).pinnedBytes(self.backend),
        async startDoomedServer(port) {
          // The fixture's server (test/fixtures/cm-doomed-server.js), in another process of the same machine.
          const process = controls(self.backend).spawn();
          const dmb = bridgeOn(process, 'doomed server');
          const listener = dmb.listenRdma({ host: address, port });
          const accepted = (async () => {
            const request = await listener.next();
            const pd = request.device.allocPd();
            const buf = dmb.createUdmabuf(1 << 20);
            const mr = pd.registerDmaBuf(buf, { fallback: 'memfd-pages', access: ['local-write', 'remote-write'] });
            await request.accept({ pd, privateData: encodeRemoteBuffer(mr.remote()) });
          })();
          return {
            async vanish() {
              await accepted;
              controls(self.backend).kill(process);
            },
          };
        },
        startDoomedClient(port) {
          // The fixture's client (test/fixtures/cm-doomed-client.js), likewise.
          const process = controls(self.backend).spawn();
          const dmb = bridgeOn(process, 'doomed client');
          let killed = false;
          /** What made a write fail while the process lived: vanish() reports it. */
          let failure: unknown;
          const writing = (async () => {
            const conn = await dmb.connectRdma({ host: peer, port });
            const buf = dmb.createUdmabuf(1 << 20);
            const mr = conn.pd.registerDmaBuf(buf, { fallback: 'memfd-pages' });
            const remote = decodeRemoteBuffer(conn.privateData);
            const write = async (id: bigint) => {
              conn.qp.postSend([{ opcode: 'write', local: { mr, length: 64 * 1024 }, remote, id }]);
              expect(await conn.cq.next()).toMatchObject({ status: 'success' });
            };
            await write(0n);
            // Goes on until the process is killed: a write that fails before then fails the test, one after is the dead process's.
            void (async () => {
              for (let id = 1n; !killed; id++) await write(id);
            })().catch((e) => {
              if (!killed) failure = e;
            });
          })();
          return {
            async vanish() {
              await writing;
              if (failure) throw failure;
              killed = true;
              controls(self.backend).kill(process);
            },
          };
        },
      });
      try {
        await Promise.all([c.server(ctx(a, A, B, meetA)), c.client(ctx(b, B, A, meetB))]);
      } finally {
        a.dmb.close();
        b.dmb.close();
      }
    }, 30_000);
  }
});
