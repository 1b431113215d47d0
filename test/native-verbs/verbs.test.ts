// The verbs' own checks on any Linux host: loading libibverbs (or saying it
// is missing), handles, argument types and RLIMIT_MEMLOCK. Traffic on a real
// device is tested on both backends in test/api/rdma.test.ts (rxe in the VM).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../seam/backend';
import type { VerbsCalls } from '../../seam/backend-verbs';
import { loadNative } from '../../src/native';
import { canHideLibraries, runWithout } from '../support/hidden-library';
import { expectErrno } from '../support/errno';
import { wcWords } from '../../seam/work-requests';
import { mrWords } from '../../seam/mr-words';
import { describeNeeds, itNeeds } from '../support/skip';

const native = loadNative();
const libibverbs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']
  .map((dir) => join(dir, 'libibverbs.so.1'))
  .find((file) => existsSync(file));
const isRoot = process.getuid?.() === 0;
const addonPath = native.source?.file ?? '';
const UNLIMITED = 2n ** 64n - 1n;


describeNeeds(native.error ?? null)('native verbs', () => {
  const b = native.backend as Backend & VerbsCalls;
  const withVerbs = itNeeds(libibverbs ? null : 'libibverbs.so.1 is not installed (apt-get install libibverbs1)');

  withVerbs('lists devices: an array, empty where the kernel has none', () => {
    const devices = b.ibvGetDeviceList();
    expect(Array.isArray(devices)).toBe(true);
    if (!existsSync('/sys/class/infiniband')) expect(devices).toEqual([]);
    for (const d of devices) expect(d).toMatchObject({ name: expect.any(String), guid: expect.any(BigInt), nodeType: expect.any(Number) });
  });

  withVerbs('answers ENODEV for a device that is not there', () => {
    const e = expectErrno(() => b.ibvOpenDevice('dmabridge-none0'), 'ENODEV', 'ibv_open_device');
    expect(e.message).toMatch(/dmabridge-none0/);
  });

  withVerbs('answers EBADF, with the verb as syscall, for a handle that names nothing', () => {
    const words = new BigUint64Array(6);
    const view = new Uint8Array(new SharedArrayBuffer(4096));
    const cases: Array<[string, () => unknown]> = [
      ['ibv_close_device', () => b.ibvCloseDevice(1)],
      ['ibv_query_device', () => b.ibvQueryDevice(1)],
      ['ibv_query_port', () => b.ibvQueryPort(1, 1)],
      ['ibv_query_gid', () => b.ibvQueryGid(1, 1, 0)],
      ['ibv_get_async_event', () => b.ibvGetAsyncEvent(1)],
      ['ibv_get_async_event', () => b.ibvAsyncFd(1)],
      ['ibv_alloc_pd', () => b.ibvAllocPd(-1)],
      ['ibv_dealloc_pd', () => b.ibvDeallocPd(0)],
      ['ibv_reg_mr', () => b.ibvRegMr(2 ** 40, view, 1, mrWords())],
      ['ibv_reg_dmabuf_mr', () => b.ibvRegDmabufMr(1.5, 0n, 4096n, 0n, -1, 0, mrWords())],
      ['ibv_dereg_mr', () => b.ibvDeregMr(1)],
      ['ibv_advise_mr', () => b.ibvAdviseMr(1, 0, 1, 0x100, 0x10000n, 4096)],
      ['ibv_create_comp_channel', () => b.ibvCreateCompChannel(1)],
      ['ibv_destroy_comp_channel', () => b.ibvDestroyCompChannel(1)],
      ['ibv_create_cq', () => b.ibvCreateCq(1, 16, -1, wcWords(1))],
      ['ibv_destroy_cq', () => b.ibvDestroyCq(1)],
      ['ibv_req_notify_cq', () => b.ibvReqNotifyCq(1, false)],
      ['ibv_get_cq_event', () => b.ibvGetCqEvent(1)],
      ['ibv_ack_cq_events', () => b.ibvAckCqEvents(1, 1)],
      ['ibv_poll_cq', () => b.ibvPollCq(1, 1)],
      ['ibv_create_qp', () => b.ibvCreateQp(1, { sendCq: 1, recvCq: 1, qpType: 2, sqSigAll: true, cap: { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } })],
      ['ibv_modify_qp', () => b.ibvModifyQp(1, {}, 0)],
      ['ibv_destroy_qp', () => b.ibvDestroyQp(1)],
      ['ibv_post_send', () => b.ibvPostSend(1, words, 1)],
      ['ibv_post_recv', () => b.ibvPostRecv(1, words, 1)],
    ];
    for (const [syscall, call] of cases) expectErrno(call, 'EBADF', syscall);
  });

  withVerbs('rejects arguments of the wrong type with a TypeError', () => {
    const call = (fn: (...args: unknown[]) => unknown, ...args: unknown[]) => () => fn(...args);
    const loose = b as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(call(loose.ibvOpenDevice!, 7)).toThrow(TypeError);
    expect(call(loose.ibvOpenDevice!, 'a\0b')).toThrow(TypeError);
    expect(call(loose.ibvAllocPd!, '1')).toThrow(TypeError);
    expect(call(loose.ibvAllocPd!)).toThrow(TypeError);
    expect(call(loose.ibvDeallocPd!, 1n)).toThrow(TypeError);
    expect(call(loose.ibvPollCq!, {})).toThrow(TypeError);
    expect(call(loose.ibvAdviseMr!, 1, 0, 1, 0x100, 0x10000, 4096)).toThrow(TypeError);
    expect(call(loose.ibvAdviseMr!, 1, 0, 1, 0x100, 0x10000n, '4096')).toThrow(TypeError);
    expect(call(loose.setMemlockLimit!, 1, 2)).toThrow(TypeError);
    expect(call(loose.setMemlockLimit!, -1n, 2n)).toThrow(TypeError);
  });

  it('reads and sets RLIMIT_MEMLOCK as bigints', () => {
    const limit = b.getMemlockLimit();
    expect(typeof limit.soft).toBe('bigint');
    expect(typeof limit.hard).toBe('bigint');
    expect(limit.soft <= limit.hard).toBe(true);
    b.setMemlockLimit(limit.soft, limit.hard);
    expect(b.getMemlockLimit()).toEqual(limit);
    if (limit.hard !== UNLIMITED) {
      expectErrno(() => b.setMemlockLimit(limit.hard + 1n, limit.hard), 'EINVAL', 'setrlimit');
      if (!isRoot) expectErrno(() => b.setMemlockLimit(limit.soft, limit.hard + 1n), 'EPERM', 'setrlimit');
    }
  });

  withVerbs('lists devices from a worker thread too', async () => {
    const worker = new Worker(
      `const a = require(${JSON.stringify(addonPath)}); require('node:worker_threads').parentPort.postMessage(a.ibvGetDeviceList().length);`,
      { eval: true },
    );
    const count = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    expect(count).toBe(b.ibvGetDeviceList().length);
  });

  // With libibverbs.so.1 hidden from a child, the addon still loads and each
  // verb says what to install.
  itNeeds(!libibverbs ? 'libibverbs.so.1 is not installed (apt-get install libibverbs1)' : canHideLibraries ? null : 'hiding a library needs root and unshare')('throws ENOSYS from dlopen, naming the package, where libibverbs is missing', () => {
    const script = `
      const a = require(${JSON.stringify(addonPath)});
      const out = {};
      for (const [name, call] of [['list', () => a.ibvGetDeviceList()], ['open', () => a.ibvOpenDevice('rxe0')], ['post', () => a.ibvPostSend(1, new BigUint64Array(6), 1)]]) {
        try { call(); out[name] = 'returned'; } catch (e) { out[name] = { code: e.code, errno: e.errno, syscall: e.syscall, message: e.message }; }
      }
      out.memlock = typeof a.getMemlockLimit().soft;
      console.log(JSON.stringify(out));`;
    const child = runWithout(libibverbs!, script);
    expect(child.stderr).toBe('');
    const out = JSON.parse(child.stdout);
    const enosys = {
      code: 'ENOSYS', errno: -38, syscall: 'dlopen',
      message: 'libibverbs.so.1 not found: install rdma-core (Debian: ibverbs-providers, libibverbs1)',
    };
    expect(out).toEqual({ list: enosys, open: enosys, post: enosys, memlock: 'bigint' });
  });
});
