// Removing an RDMA device under a program that uses it, on the real kernel:
// `rdma link delete` of an rxe device while a PD, an MR, a CQ with a pending
// wait and a connected QP pair are live. rxe has no disassociate_ucontext,
// so on 6.12 the kernel does not revoke anything: the delete waits until the
// program closes the device, no IBV_EVENT_DEVICE_FATAL arrives, every verb
// keeps working meanwhile, and the pending wait ends only when the program
// closes its CQ. It deletes and re-adds rxe0, which the other suites use, so
// it is not in test:kernel's default list; run it alone:
//   npm run test:kernel -- test/device-removal/rxe.test.ts
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { open } from '../../src';
import { describeNeeds, inKernelVm } from '../support/skip';

const sh = (...argv: string[]) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
const NAME = 'rxe0';
const LINK = ['rdma', 'link', 'add', NAME, 'type', 'rxe', 'netdev', 'lo'];

// Root and a kernel with rxe: the real-kernel VM only.
describeNeeds(inKernelVm ? null : 'root and rxe0 of the kernel VM, alone: npm run test:kernel -- test/device-removal/rxe.test.ts')('device removal on rxe [native]', () => {
  // Whatever happens, rxe0 is back for whoever boots the guest next.
  afterAll(() => {
    if (!sh('rdma', 'link', 'show', NAME).stdout.includes(NAME)) sh(...LINK);
  });

  it('rdma link delete waits for the program to close the device; until then verbs work and no event comes; closing ends the wait, lets the delete finish, and a re-added device opens', async () => {
    const dmb = open({ backend: 'native' });
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
    const removal = spawn('rdma', ['link', 'delete', NAME], { stdio: 'ignore' });
    const done = new Promise<void>((resolve) => removal.on('exit', (code) => { deleted = code; resolve(); }));
    await new Promise((r) => setTimeout(r, 3000));
    expect(deleted).toBeUndefined();
    expect(events).toEqual([]);
    expect(await Promise.race([wait, new Promise((r) => setTimeout(() => r('pending'), 200))])).toBe('pending');
    expect(dev.port(1).state).toBe('active');
    a.postSend([{ opcode: 'send', local: { mr }, id: 1n }]);

    dev.close();
    expect(await wait).toMatchObject({ code: 'ECANCELED' });
    expect(pd.closed && cq.closed && a.closed && z.closed && mr.closed).toBe(true);
    await done;
    expect(deleted).toBe(0);
    expect(dmb.rdmaDevices().map((d) => d.name)).not.toContain(NAME);
    expect(dmb.seam.openFds()).toEqual(fdsBefore);

    expect(sh(...LINK).status).toBe(0);
    const again = dmb.openRdma(NAME);
    again.allocPd().close();
    dmb.close();
  }, 60_000);
});
