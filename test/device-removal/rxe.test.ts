// Removing an RDMA device under a program that uses it: `rdma link delete` of
// an rxe device while a PD, an MR, a CQ with a pending wait and a connected QP
// pair are live. rxe has no disassociate_ucontext, so on 6.12 the kernel does
// not revoke anything: the device leaves the device list at once, but the
// delete waits until the program closes the device, no IBV_EVENT_DEVICE_FATAL
// arrives, every verb keeps working meanwhile, and the pending wait ends only
// when the program closes its CQ. The emulator does the same through
// controls(dmb).rdma.remove(name). Natively it deletes and re-adds the VM's
// rxe0, which the other suites use, so it is not in test:kernel's default
// list; run it alone:
//   npm run test:kernel -- test/device-removal/rxe.test.ts
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, expect } from 'vitest';
import { controls } from '../../emulator';
import type { DmaBridge } from '../../src';
import { describeEachBackend, openOn } from '../support/backends';
import { expectErrno } from '../support/errno';
import { inKernelVm, itNeeds } from '../support/skip';

const sh = (...argv: string[]) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
const NAME = 'rxe0';
const LINK = ['rdma', 'link', 'add', NAME, 'type', 'rxe', 'netdev', 'lo'];

/** `rdma link delete` and `rdma link add` of rxe0, on the kernel or on the emulated machine. */
interface Link {
  /** Starts the delete; the promise settles with its exit code once it returns. */
  delete(): Promise<number | null>;
  add(): void;
}

function linkOf(dmb: DmaBridge, native: boolean): Link {
  if (native) {
    return {
      delete: () => new Promise((resolve) => spawn('rdma', ['link', 'delete', NAME], { stdio: 'ignore' }).on('exit', resolve)),
      add: () => expect(sh(...LINK).status).toBe(0),
    };
  }
  const rdma = controls(dmb).rdma;
  return { delete: () => rdma.remove(NAME).then(() => 0), add: () => { rdma.add('rxe', NAME); } };
}

describeEachBackend('device removal on rxe', (b) => {
  const native = b.name === 'native';
  // Root and a kernel with rxe: natively, the real-kernel VM only.
  const it = itNeeds(native && !inKernelVm ? 'root and rxe0 of the kernel VM, alone: npm run test:kernel -- test/device-removal/rxe.test.ts' : null);
  // Whatever happens, rxe0 is back for whoever boots the guest next.
  afterAll(() => {
    if (native && inKernelVm && !sh('rdma', 'link', 'show', NAME).stdout.includes(NAME)) sh(...LINK);
  });

  it('rdma link delete waits for the program to close the device; until then verbs work and no event comes; closing ends the wait, lets the delete finish, and a re-added device opens', async () => {
    const dmb = openOn(b);
    const link = linkOf(dmb, native);
    const fdsBefore = dmb.seam.openFds();
    const dev = dmb.openRdma(NAME);
    const events: string[] = [];
    dev.on('event', (e) => events.push(e.type));
    const pd = dev.allocPd();
    const cq = dev.createCq(16);
    const a = pd.createQp(cq), z = pd.createQp(cq);
    a.connect(z.endpoint());
    z.connect(a.endpoint());
    const mr = pd.register(new Uint8Array(new SharedArrayBuffer(4096)));
    const wait = cq.next().then(() => 'completed', (e: unknown) => e);

    let deleted: number | null | undefined;
    const done = link.delete().then((code) => { deleted = code; });
    await new Promise((r) => setTimeout(r, native ? 3000 : 50));
    expect(deleted).toBeUndefined();
    expect(events).toEqual([]);
    expect(await Promise.race([wait, new Promise((r) => setTimeout(() => r('pending'), 200))])).toBe('pending');
    expect(dev.port(1).state).toBe('active');
    a.postSend([{ opcode: 'send', local: { mr }, id: 1n }]);
    // The device is already gone from the list: nobody else can open it.
    expect(dmb.rdmaDevices().map((d) => d.name)).not.toContain(NAME);
    expectErrno(() => dmb.openRdma(NAME), 'ENODEV', 'ibv_open_device');

    dev.close();
    expect(await wait).toMatchObject({ code: 'ECANCELED' });
    expect(pd.closed && cq.closed && a.closed && z.closed && mr.closed).toBe(true);
    await done;
    expect(deleted).toBe(0);
    expect(dmb.rdmaDevices().map((d) => d.name)).not.toContain(NAME);
    expect(dmb.seam.openFds()).toEqual(fdsBefore);

    link.add();
    const again = dmb.openRdma(NAME);
    again.allocPd().close();
    dmb.close();
  }, 60_000);
});
