// Revoke (seed 001): the exporter takes back memory a pinned importer holds.
// The MR cannot keep working, and its key cannot be freed either: a key
// handed to a new MR would let a peer's stale rkey write someone else's
// memory. So the MR stays registered, keeps its key, and fails every access,
// as an mlx5 mkey that a UMR has marked free does: the responder NAKs a
// remote access (remote-access-error, 10, at the requester) and a local one
// fails its protection check (local-protection-error, 4).
import { afterEach, describe, expect, it } from 'vitest';
import { errorOf } from '../support/seam-session';
import { loopback, Machine, machine, MiB, pattern } from '../support/emulator-rig';

describe('revoking a pinned dma-buf', () => {
  let m: Machine;
  afterEach(() => m.dmb.close());

  function revokedRig(name = 'efa_0') {
    m = machine();
    const { dmb, backend, hooks } = m;
    const gpu = hooks.vram('hl0').export(backend, 1 * MiB);
    const buf = dmb.importDmaBuf(gpu.fd, { adopt: true });
    const rdma = loopback(dmb, name);
    const mr = rdma.pd.registerDmaBuf(buf, { access: ['local-write', 'remote-write', 'remote-read'] });
    return { gpu, buf, rdma, mr };
  }

  it('fails RDMA through the MR with remote-access-error once the exporter revokes the buffer', async () => {
    const { gpu, rdma, mr } = revokedRig();
    expect(await rdma.write(mr, 0, pattern(64, 1))).toMatchObject({ status: 'success' });
    gpu.revoke();
    expect(m.hooks.rdma.device('efa_0').mr(mr.lkey).dmaBuf).toMatchObject({ revoked: true });
    expect(await rdma.write(mr, 0, pattern(64, 2))).toMatchObject({ status: 'remote-access-error', statusCode: 10 });
  });

  it('fails a request that gathers from the revoked MR with local-protection-error', async () => {
    const { gpu, rdma, mr } = revokedRig('mlx5_0');
    gpu.revoke();
    const target = rdma.pd.register(new Uint8Array(64), { access: ['local-write', 'remote-write'] });
    rdma.qp.postSend([{ opcode: 'write', local: { mr, length: 64 }, remote: target.remote(), id: 7n }]);
    expect(await rdma.cq.next({ timeout: 1000 })).toMatchObject({ wrId: 7n, status: 'local-protection-error', statusCode: 4 });
  });

  it('keeps the revoked MR registered under its key, so the key can name no other MR until deregistration', () => {
    const { gpu, rdma, mr } = revokedRig();
    gpu.revoke();
    const other = rdma.pd.register(new Uint8Array(64));
    expect(other.lkey >>> 8).not.toBe(mr.lkey >>> 8);
    expect(m.hooks.rdma.device('efa_0').mr(mr.lkey)).toMatchObject({ key: mr.lkey, via: 'dma-buf', dmaBuf: { revoked: true } });
  });

  it('refuses to register a revoked dma-buf (ENODEV), and deregisters the revoked MR, letting the dma-buf go', () => {
    const { gpu, buf, rdma, mr } = revokedRig();
    gpu.revoke();
    expect(errorOf(() => rdma.pd.registerDmaBuf(buf))).toMatchObject({ code: 'ENODEV', syscall: 'ibv_reg_dmabuf_mr' });
    const fdinfo = () => m.backend.readFdinfo(buf.fd);
    expect(fdinfo()).toMatch(/count:\t2\n/);
    mr.close();
    expect(fdinfo()).toMatch(/count:\t1\n/);
    expect(() => gpu.read(0, 1)).toThrow(/revoked/);
  });
});
