// An fd has one owner. close() refuses an fd a live watch polls (libuv would
// abort once the number is reused) and one libibverbs or librdmacm owns (it
// would close it again later); destroying a channel or context stops the
// watches on its fd first.
import { afterEach, beforeEach, expect } from 'vitest';
import type { Backend } from '../../seam/backend';
import type { RdmaCmCalls } from '../../seam/backend-rdmacm';
import type { VerbsCalls } from '../../seam/backend-verbs';
import * as uapi from '../../seam/uapi';
import { DEVICES, describeEachBackend, itWith } from '../support/backends';
import { expectErrno } from '../support/errno';
import { turns } from '../support/seam-session';

type Kernel = Backend & VerbsCalls & RdmaCmCalls;

describeEachBackend('fd ownership', (b) => {
  let k: Kernel;
  let open: number[];
  beforeEach(() => {
    k = b.create() as Kernel;
    open = [];
  });
  afterEach(() => {
    for (const fd of open) {
      try { k.close(fd); } catch { /* closed by the test */ }
    }
  });
  const pair = () => {
    const fds = k.socketpair();
    open.push(...fds);
    return fds;
  };

  itWith(b, '/')('close() refuses an fd a live watch polls (EBUSY), and closes it once the watch stops', () => {
    const [fd] = pair();
    const watch = k.watch(fd, uapi.POLLIN, () => {});
    expectErrno(() => k.close(fd), 'EBUSY', 'close');
    watch.stop();
    k.close(fd);
  });

  itWith(b, DEVICES.rxe)('close() refuses the fds libibverbs owns: a context\'s async fd, a completion channel\'s', () => {
    const ctx = k.ibvOpenDevice('rxe0');
    const channel = k.ibvCreateCompChannel(ctx);
    expectErrno(() => k.close(channel.fd), 'EBUSY', 'close');
    expectErrno(() => k.close(k.ibvAsyncFd(ctx)), 'EBUSY', 'close');
    k.ibvDestroyCompChannel(channel.handle);
    k.ibvCloseDevice(ctx);
  });

  itWith(b, DEVICES.nic)('close() refuses an rdma_cm event channel\'s fd', () => {
    const channel = k.rdmaCreateEventChannel();
    expectErrno(() => k.close(channel.fd), 'EBUSY', 'close');
    k.rdmaDestroyEventChannel(channel.handle);
  });

  itWith(b, DEVICES.rxe)('destroying a completion channel or context stops the watches on its fd; the fd number\'s next file watches cleanly', async () => {
    const ctx = k.ibvOpenDevice('rxe0');
    const channel = k.ibvCreateCompChannel(ctx);
    const calls: string[] = [];
    const stale = k.watch(channel.fd, uapi.POLLIN, () => calls.push('channel'));
    const asyncWatch = k.watch(k.ibvAsyncFd(ctx), uapi.POLLIN, () => calls.push('async'));
    k.ibvDestroyCompChannel(channel.handle);
    k.ibvCloseDevice(ctx);
    // The numbers come back for the next files; a watch for other events on
    // them must not meet the old ones (libuv aborts on that).
    const fds = [...pair(), ...pair()];
    const fresh = fds.map((fd) => k.watch(fd, uapi.POLLOUT, () => calls.push('fresh')));
    await turns(5);
    for (const w of [...fresh, stale, asyncWatch]) w.stop();
    expect(calls.filter((c) => c !== 'fresh')).toEqual([]);
    expect(calls).toContain('fresh');
  });
});
