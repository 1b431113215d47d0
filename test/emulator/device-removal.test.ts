// The emulator's rdma.remove() and rdma.add(), `rdma link delete` and `add` of
// rxe: the program-facing behaviour is test/device-removal/rxe.test.ts, run on
// both backends; here what only the control itself decides.
import { describe, expect, it } from 'vitest';
import { open } from '../../src';
import { machine } from '../support/emulator-rig';

const settled = (p: Promise<unknown>) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))]);

describe('removing an emulated RDMA device', () => {
  it('settles at once where nothing has the device open', async () => {
    const { dmb, hooks } = machine();
    expect(await settled(hooks.rdma.remove('rxe0'))).toBe(true);
    expect(dmb.rdmaDevices().map((d) => d.name)).toEqual(['mlx5_0', 'efa_0']);
    dmb.close();
  });

  it('waits for every process of the machine, and a killed one lets go as its fds close', async () => {
    const { dmb, hooks } = machine();
    const peer = open({ backend: hooks.spawn() });
    // Held until the kill: a forgotten PD's finalizer would let go of the device on its own.
    const pd = peer.openRdma('rxe0').allocPd();
    const removal = hooks.rdma.remove('rxe0');
    expect(await settled(removal)).toBe(false);
    expect(pd.closed).toBe(false);
    hooks.kill(peer);
    expect(await settled(removal)).toBe(true);
    dmb.close();
  });

  it('keeps the name taken until the removal ends; then rdma link add gives it the lowest free uverbs node', async () => {
    const { dmb, hooks } = machine();
    const dev = dmb.openRdma('rxe0');
    const removal = hooks.rdma.remove('rxe0');
    expect(() => hooks.rdma.add('rxe', 'rxe0')).toThrow(/already/);
    expect(() => hooks.rdma.device('rxe0')).toThrow(TypeError);
    dev.close();
    await removal;
    hooks.rdma.add('rxe', 'rxe0');
    expect(dmb.rdmaDevices().map((d) => d.name)).toEqual(['rxe0', 'mlx5_0', 'efa_0']);
    dmb.openRdma('rxe0').close();
    dmb.close();
  });

  it('refuses what it does not model: a device with disassociate (mlx5, efa), a name that is not there, a bad kind', () => {
    const { dmb, hooks } = machine();
    expect(() => hooks.rdma.remove('mlx5_0')).toThrow(/rxe devices only/);
    expect(() => hooks.rdma.remove('rxe9')).toThrow(/no RDMA device 'rxe9'/);
    expect(() => hooks.rdma.add('bogus' as 'rxe')).toThrow(/kind must be one of/);
    dmb.close();
  });
});
