// Device memory as dma-bufs, and how importers hold it (seed 001): movable
// VRAM (amdgpu-like) is evicted and moved back, and tells dynamic importers
// (mlx5) each time; a pinned importer (efa) pins it, which on amdgpu means
// system memory and no peer-to-peer; memory that never moves (habanalabs)
// stays in place and peer-to-peer however it is imported.
import { afterEach, describe, expect, it } from 'vitest';
import * as uapi from '../../seam/uapi';
import { loopback, Machine, machine, MiB, pattern } from '../support/emulator-rig';

describe('device memory exported as dma-bufs', () => {
  let m: Machine;
  afterEach(() => m.dmb.close());

  it('reaches the process as a dma-buf fd: read-write, sized by lseek, named by its exporter, with no CPU mapping', () => {
    m = machine();
    const { backend, hooks } = m;
    for (const [name, expName] of [['amdgpu0', 'drm'], ['hl0', 'habanalabs']]) {
      const buf = hooks.vram(name).export(backend, 2 * MiB);
      expect(backend.lseek(buf.fd, 0n, uapi.SEEK_END)).toBe(2n * BigInt(MiB));
      expect(backend.readFdinfo(buf.fd)).toMatch(new RegExp(`flags:\\t02000002\\n[^]*exp_name:\\t${expName}\\n`));
      expect(() => backend.mmap(buf.fd, 4096, uapi.PROT_READ, uapi.MAP_SHARED, 0n)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      backend.close(buf.fd);
    }
    expect(hooks.vram('amdgpu0').used).toBe(0);
  });

  it('evicts the least recently used buffer to system memory when an allocation needs the room, bytes intact', () => {
    m = machine({ vram: [{ name: 'gpu', kind: 'movable', capacity: 4 * MiB }] });
    const vram = m.hooks.vram('gpu');
    const a = vram.export(m.backend, 2 * MiB);
    const b = vram.export(m.backend, 2 * MiB);
    b.write(0, pattern(4096, 2));
    a.write(0, pattern(4096, 1));
    // The GPU used a last, so b goes.
    const c = vram.export(m.backend, 2 * MiB);
    expect([a.domain, b.domain, c.domain]).toEqual(['vram', 'system', 'vram']);
    expect(b.moves).toBe(1);
    expect(b.read(0, 4096)).toEqual(pattern(4096, 2));
    expect(vram.used).toBe(4 * MiB);
  });

  it('moves an evicted buffer back into VRAM when the GPU needs it, evicting another', () => {
    m = machine({ vram: [{ name: 'gpu', kind: 'movable', capacity: 4 * MiB }] });
    const vram = m.hooks.vram('gpu');
    const a = vram.export(m.backend, 4 * MiB);
    a.write(100, pattern(1000, 3));
    expect(a.evict()).toBe(true);
    const b = vram.export(m.backend, 4 * MiB);
    expect(a.restore()).toBe(true);
    expect([a.domain, b.domain, a.moves, b.moves]).toEqual(['vram', 'system', 2, 1]);
    expect(a.read(100, 1000)).toEqual(pattern(1000, 3));
  });

  it('fails an allocation with ENOMEM when nothing can be evicted to make room', () => {
    // Memory that never moves fills up.
    m = machine({ vram: [{ name: 'hl', kind: 'pinned', capacity: 4 * MiB }] });
    const hl = m.hooks.vram('hl');
    const held = hl.export(m.backend, 4 * MiB);
    expect(() => hl.export(m.backend, 4096)).toThrow(expect.objectContaining({ code: 'ENOMEM', syscall: 'HL_IOCTL_MEMORY' }));
    expect([held.domain, held.moves, held.evict()]).toEqual(['vram', 0, false]);
    m.dmb.close();
    // VRAM whose buffers have nowhere to go: system memory is full.
    m = machine({ memoryLimit: 1 * MiB, vram: [{ name: 'gpu', kind: 'movable', capacity: 4 * MiB }] });
    const gpu = m.hooks.vram('gpu');
    const a = gpu.export(m.backend, 4 * MiB);
    expect(() => gpu.export(m.backend, 2 * MiB)).toThrow(expect.objectContaining({ code: 'ENOMEM', syscall: 'DRM_IOCTL_AMDGPU_GEM_CREATE' }));
    expect([a.domain, gpu.used]).toEqual(['vram', 4 * MiB]);
  });

  it('mlx5 (a dynamic importer): a move invalidates the MR\'s mapping, the next access faults it back, and RDMA still moves the right bytes', async () => {
    m = machine();
    const { dmb, backend, hooks } = m;
    const gpu = hooks.vram('amdgpu0').export(backend, 2 * MiB);
    using buf = dmb.importDmaBuf(gpu.fd);
    const rdma = loopback(dmb, 'mlx5_0');
    const mr = rdma.pd.registerDmaBuf(buf, { access: ['local-write', 'remote-write', 'remote-read'] });
    const state = () => hooks.rdma.device('mlx5_0').mr(mr.lkey).dmaBuf;
    expect(state()).toEqual({ dynamic: true, reach: 'peer-to-peer', invalidations: 0, faults: 0, revoked: false });

    expect(gpu.evict()).toBe(true);
    expect(state()).toMatchObject({ invalidations: 1, faults: 0 });
    expect(await rdma.write(mr, 8192, pattern(4096, 5))).toMatchObject({ status: 'success' });
    expect(state()).toMatchObject({ invalidations: 1, faults: 1, reach: 'system-memory' });
    expect(gpu.read(8192, 4096)).toEqual(pattern(4096, 5));

    expect(gpu.restore()).toBe(true);
    const { wc, bytes } = await rdma.read(mr, 8192, 4096);
    expect(wc).toMatchObject({ status: 'success' });
    expect(bytes).toEqual(pattern(4096, 5));
    expect(state()).toMatchObject({ invalidations: 2, faults: 2, reach: 'peer-to-peer' });
    // An access that finds the mapping in place takes no fault.
    await rdma.read(mr, 0, 64);
    expect(state()).toMatchObject({ faults: 2 });
  });

  it('efa (a pinned importer): pinning amdgpu VRAM migrates it to system memory, so the NIC reaches it without peer-to-peer', async () => {
    m = machine();
    const { dmb, backend, hooks } = m;
    const gpu = hooks.vram('amdgpu0').export(backend, 2 * MiB);
    gpu.write(0, pattern(4096, 7));
    using buf = dmb.importDmaBuf(gpu.fd);
    const rdma = loopback(dmb, 'efa_0');
    const mr = rdma.pd.registerDmaBuf(buf, { access: ['local-write', 'remote-read'] });
    expect(hooks.rdma.device('efa_0').mr(mr.lkey).dmaBuf).toEqual({ dynamic: false, reach: 'system-memory', invalidations: 0, faults: 0, revoked: false });
    expect([gpu.domain, gpu.pinned, gpu.moves]).toEqual(['system', true, 1]);
    const { bytes } = await rdma.read(mr, 0, 4096);
    expect(bytes).toEqual(pattern(4096, 7));
    mr.close();
    expect(gpu.pinned).toBe(false);
  });

  it('tells a dynamic importer when another importer\'s pin moves the buffer', async () => {
    m = machine();
    const { dmb, backend, hooks } = m;
    const gpu = hooks.vram('amdgpu0').export(backend, 1 * MiB);
    gpu.write(0, pattern(256, 4));
    using buf = dmb.importDmaBuf(gpu.fd);
    const mlx5 = loopback(dmb, 'mlx5_0');
    const dynamic = mlx5.pd.registerDmaBuf(buf, { access: ['local-write', 'remote-read'] });
    loopback(dmb, 'efa_0').pd.registerDmaBuf(buf);
    expect(hooks.rdma.device('mlx5_0').mr(dynamic.lkey).dmaBuf).toMatchObject({ invalidations: 1, faults: 0 });
    expect((await mlx5.read(dynamic, 0, 256)).bytes).toEqual(pattern(256, 4));
    expect(hooks.rdma.device('mlx5_0').mr(dynamic.lkey).dmaBuf).toMatchObject({ faults: 1, reach: 'system-memory' });
  });

  it('fails a pinned registration with ENOMEM where system memory has no room for the buffer to move to', () => {
    m = machine({ memoryLimit: 1 * MiB });
    const { dmb, backend, hooks } = m;
    const gpu = hooks.vram('amdgpu0').export(backend, 2 * MiB);
    using buf = dmb.importDmaBuf(gpu.fd);
    const pd = loopback(dmb, 'efa_0').pd;
    expect(() => pd.registerDmaBuf(buf)).toThrow(expect.objectContaining({ code: 'ENOMEM', syscall: 'ibv_reg_dmabuf_mr' }));
    expect([gpu.domain, gpu.pinned]).toEqual(['vram', false]);
    expect(backend.readFdinfo(buf.fd)).toMatch(/count:\t2\n/);
  });

  it('never moves a pinned buffer: not evicted under pressure, not brought back while pinned', async () => {
    m = machine({ vram: [{ name: 'gpu', kind: 'movable', capacity: 4 * MiB }] });
    const { dmb, backend, hooks } = m;
    const vram = hooks.vram('gpu');
    const pinned = vram.export(backend, 2 * MiB);
    using buf = dmb.importDmaBuf(pinned.fd);
    const rdma = loopback(dmb, 'efa_0');
    const mr = rdma.pd.registerDmaBuf(buf, { access: ['local-write', 'remote-write'] });
    for (let i = 0; i < 3; i++) vram.export(backend, 4 * MiB);
    expect([pinned.evict(), pinned.restore(), pinned.moves, pinned.domain]).toEqual([false, false, 1, 'system']);
    expect(await rdma.write(mr, 0, pattern(64, 9))).toMatchObject({ status: 'success' });
    expect(pinned.read(0, 64)).toEqual(pattern(64, 9));
    mr.close();
    expect(pinned.restore()).toBe(true);
    expect(pinned.domain).toBe('vram');
  });

  it('keeps habanalabs-like memory in place when pinned: efa and mlx5 both reach it peer-to-peer, and it never moves', async () => {
    m = machine();
    const { dmb, backend, hooks } = m;
    const hl = hooks.vram('hl0').export(backend, 1 * MiB);
    using buf = dmb.importDmaBuf(hl.fd);
    for (const name of ['efa_0', 'mlx5_0']) {
      const rdma = loopback(dmb, name);
      const mr = rdma.pd.registerDmaBuf(buf, { access: ['local-write', 'remote-write'] });
      expect(hooks.rdma.device(name).mr(mr.lkey).dmaBuf).toMatchObject({ reach: 'peer-to-peer' });
      expect(await rdma.write(mr, 4096, pattern(128, name.length))).toMatchObject({ status: 'success' });
      expect(hl.read(4096, 128)).toEqual(pattern(128, name.length));
    }
    expect([hl.domain, hl.pinned, hl.moves, hl.evict(), hl.restore()]).toEqual(['vram', true, 0, false, true]);
  });

  it('reaches a CUDA dma-buf peer-to-peer and udmabuf and heap dma-bufs through system memory', () => {
    m = machine();
    const { dmb, hooks } = m;
    const rdma = loopback(dmb, 'mlx5_0');
    using cuda = dmb.allocCuda(2 * MiB);
    using udmabuf = dmb.createUdmabuf(64 * 1024);
    using heap = dmb.allocHeap(64 * 1024);
    const reach = [cuda, udmabuf, heap].map((buf) => hooks.rdma.device('mlx5_0').mr(rdma.pd.registerDmaBuf(buf).lkey).dmaBuf?.reach);
    expect(reach).toEqual(['peer-to-peer', 'system-memory', 'system-memory']);
  });
});
