// The addon's verbs against a real rxe device: devices, queries, PDs, MRs
// (memfd pages, dma-buf refusal), a comp channel, CQs and two connected RC QPs
// moving bytes by RDMA WRITE with immediate, READ and SEND, completion events
// through the channel fd, the errors rxe gives (stale rkey, busy PD), and
// RLIMIT_MEMLOCK without CAP_IPC_LOCK. Plain JS, so it starts fast in the VM:
//
//   scripts/vm/run.sh -- node test/native-verbs/smoke.js
//
// Prints one line per check; exits 1 if any check failed.
'use strict';

const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Worker } = require('node:worker_threads');

const ADDON = process.env.DMABRIDGE_NATIVE_PATH ?? path.join(__dirname, '../../build/Release/dmabridge.node');
const addon = require(ADDON);

const O_RDWR = 2, O_CLOEXEC = 0o2000000;
const MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2, F_SEAL_SHRINK = 2;
const PROT_RW = 3, MAP_SHARED = 1, POLLIN = 1, PAGE = 4096;
const LOCAL_WRITE = 1, REMOTE_WRITE = 2, REMOTE_READ = 4;
const QPT_RC = 2, QPS_INIT = 1, QPS_RTR = 2, QPS_RTS = 3, MTU_1024 = 3;
const QP_STATE = 1 << 0, QP_ACCESS_FLAGS = 1 << 3, QP_PKEY_INDEX = 1 << 4, QP_PORT = 1 << 5, QP_AV = 1 << 7;
const QP_PATH_MTU = 1 << 8, QP_TIMEOUT = 1 << 9, QP_RETRY_CNT = 1 << 10, QP_RNR_RETRY = 1 << 11;
const QP_RQ_PSN = 1 << 12, QP_MAX_QP_RD_ATOMIC = 1 << 13, QP_MIN_RNR_TIMER = 1 << 15, QP_SQ_PSN = 1 << 16;
const QP_MAX_DEST_RD_ATOMIC = 1 << 17, QP_DEST_QPN = 1 << 20;
const WR_WRITE = 0, WR_WRITE_IMM = 1, WR_SEND = 2, WR_SEND_IMM = 3, WR_READ = 4, WR_ATOMIC_FETCH_ADD = 6;
const SEND_SIGNALED = 2, SEND_INLINE = 8;
const WC_SEND = 0, WC_RDMA_WRITE = 1, WC_RDMA_READ = 2, WC_RECV = 128, WC_RECV_RDMA_WITH_IMM = 129, WC_WITH_IMM = 2;
const SEND_WR_WORDS = 6, RECV_WR_WORDS = 3, WC_WORDS = 5;

let failures = 0;
function ok(name, cond, detail = '') {
  if (!cond) failures++;
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}
// A call that must fail with `code` (and `syscall`); returns the error.
function fails(name, fn, code, syscall) {
  try {
    fn();
  } catch (e) {
    const same = e.code === code && (!syscall || e.syscall === syscall) && e.errno < 0;
    ok(name, same, `${e.code} errno ${e.errno} ${e.syscall}${same ? '' : `, expected ${code} ${syscall ?? ''}: ${e.message}`}`);
    return e;
  }
  ok(name, false, `succeeded, expected ${code}`);
  return undefined;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const htonl = (v) => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

function sendWr(w, i, { id = 0n, opcode, flags = SEND_SIGNALED, addr = 0n, length = 0, lkey = 0, remote = 0n, rkey = 0, imm = 0 }) {
  const b = i * SEND_WR_WORDS;
  w[b] = id;
  w[b + 1] = BigInt(opcode | (flags << 8) | ((length ? 1 : 0) << 16));
  w[b + 2] = addr;
  w[b + 3] = BigInt(length) | (BigInt(lkey) << 32n);
  w[b + 4] = remote;
  w[b + 5] = BigInt(rkey) | (BigInt(imm) << 32n);
}

function post(qp, ...requests) {
  const w = new BigUint64Array(requests.length * SEND_WR_WORDS);
  requests.forEach((r, i) => sendWr(w, i, r));
  addon.ibvPostSend(qp, w, requests.length);
}

function postRecv(qp, id, addr = 0n, length = 0, lkey = 0) {
  addon.ibvPostRecv(qp, new BigUint64Array([id, addr, BigInt(length) | (BigInt(lkey) << 32n)]), 1);
}

function decodeWc(w, i) {
  const b = i * WC_WORDS;
  return {
    id: w[b],
    status: Number(w[b + 1] & 0xffn),
    opcode: Number((w[b + 1] >> 8n) & 0xffn),
    vendorErr: Number((w[b + 1] >> 16n) & 0xffffffffn),
    byteLen: Number(w[b + 2] & 0xffffffffn),
    imm: Number(w[b + 2] >> 32n),
    qpNum: Number(w[b + 3] & 0xffffffffn),
    flags: Number(w[b + 4]),
  };
}

// Polls until n completions arrived or `ms` passed.
async function completions(cq, n, ms = 20000) {
  const out = new BigUint64Array(WC_WORDS * 16);
  const got = [];
  const deadline = Date.now() + ms;
  while (got.length < n && Date.now() < deadline) {
    const k = addon.ibvPollCq(cq, out);
    for (let i = 0; i < k; i++) got.push(decodeWc(out, i));
    if (k === 0) await sleep(1);
  }
  return got;
}

// Resolves with the first revents on fd, or 0 after `ms`.
function readable(fd, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => (w.stop(), resolve(0)), ms);
    const w = addon.watch(fd, POLLIN, (revents) => {
      w.stop();
      clearTimeout(timer);
      resolve(revents);
    });
  });
}

function memfdMapping(size, seal = false) {
  const fd = addon.memfdCreate('smoke', MFD_CLOEXEC | (seal ? MFD_ALLOW_SEALING : 0));
  addon.ftruncate(fd, BigInt(size));
  if (seal) addon.addSeals(fd, F_SEAL_SHRINK);
  return { fd, view: addon.mmap(fd, size, PROT_RW, MAP_SHARED, 0n) };
}

function connect(qp, remoteQpn, gid) {
  addon.ibvModifyQp(qp, { qpState: QPS_INIT, pkeyIndex: 0, portNum: 1, qpAccessFlags: REMOTE_WRITE | REMOTE_READ },
    QP_STATE | QP_PKEY_INDEX | QP_PORT | QP_ACCESS_FLAGS);
  addon.ibvModifyQp(qp, {
    qpState: QPS_RTR, pathMtu: MTU_1024, destQpNum: remoteQpn, rqPsn: 0, maxDestRdAtomic: 1, minRnrTimer: 12,
    ahAttr: { dlid: 0, portNum: 1, isGlobal: true, dgid: gid, sgidIndex: 1, hopLimit: 1 },
  }, QP_STATE | QP_AV | QP_PATH_MTU | QP_DEST_QPN | QP_RQ_PSN | QP_MAX_DEST_RD_ATOMIC | QP_MIN_RNR_TIMER);
  addon.ibvModifyQp(qp, { qpState: QPS_RTS, timeout: 14, retryCnt: 7, rnrRetry: 7, sqPsn: 0, maxRdAtomic: 1 },
    QP_STATE | QP_TIMEOUT | QP_RETRY_CNT | QP_RNR_RETRY | QP_SQ_PSN | QP_MAX_QP_RD_ATOMIC);
}

// Runs under setpriv without CAP_IPC_LOCK and `ulimit -l 64`.
function memlockChild() {
  const out = { limit: addon.getMemlockLimit().soft.toString() };
  const ctx = addon.ibvOpenDevice('rxe0');
  const pd = addon.ibvAllocPd(ctx);
  const attempt = (key, bytes) => {
    try {
      addon.ibvDeregMr(addon.ibvRegMr(pd, new Uint8Array(bytes), LOCAL_WRITE).handle);
      out[key] = 'ok';
    } catch (e) {
      out[key] = `${e.code} ${e.syscall}`;
    }
  };
  attempt('kib16', 16 << 10);
  attempt('mib1', 1 << 20);
  addon.setMemlockLimit(0n, addon.getMemlockLimit().hard);
  attempt('zeroLimit', PAGE);
  console.log(JSON.stringify(out));
}

async function main() {
  const started = process.hrtime.bigint();

  console.log('# devices');
  const devices = addon.ibvGetDeviceList();
  const rxe = devices.find((d) => d.name === 'rxe0');
  ok('ibv_get_device_list has rxe0', Boolean(rxe), JSON.stringify(devices, (k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
  fails('open a device that is not there', () => addon.ibvOpenDevice('nonesuch0'), 'ENODEV', 'ibv_open_device');
  const ctx = addon.ibvOpenDevice('rxe0');
  const attr = addon.ibvQueryDevice(ctx);
  ok('ibv_query_device', attr.physPortCnt === 1 && attr.maxQp > 0 && typeof attr.maxMrSize === 'bigint',
    `fw ${attr.fwVer} vendor ${attr.vendorId} maxQp ${attr.maxQp} maxQpWr ${attr.maxQpWr} maxSge ${attr.maxSge} maxCqe ${attr.maxCqe} maxMrSize ${attr.maxMrSize} caps 0x${attr.deviceCapFlags.toString(16)} odp ${attr.odpGeneralCaps}/${attr.odpRcCaps}`);
  const port = addon.ibvQueryPort(ctx, 1);
  ok('ibv_query_port: active Ethernet port', port.state === 4 && port.linkLayer === 2, JSON.stringify(port));
  fails('query port 2 of a one-port device', () => addon.ibvQueryPort(ctx, 2), 'EINVAL', 'ibv_query_port');
  const gid = addon.ibvQueryGid(ctx, 1, 1);
  ok('GID index 1 is ::ffff:127.0.0.1', hex(gid) === '00000000000000000000ffff7f000001', hex(gid));
  console.log(`     GID index 0: ${hex(addon.ibvQueryGid(ctx, 1, 0))}`);
  fails('GID index past the table', () => addon.ibvQueryGid(ctx, 1, port.gidTblLen), 'EINVAL', 'ibv_query_gid');
  ok('async fd', addon.ibvAsyncFd(ctx) > 2, String(addon.ibvAsyncFd(ctx)));
  ok('no async event pending: null, without blocking', addon.ibvGetAsyncEvent(ctx) === null);

  console.log('# protection domain and memory regions');
  const pd = addon.ibvAllocPd(ctx);
  const a = memfdMapping(64 << 10);
  const b = memfdMapping(64 << 10);
  const access = LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ;
  const mrA = addon.ibvRegMr(pd, a.view, access);
  const mrB = addon.ibvRegMr(pd, b.view, access);
  ok('ibv_reg_mr on a memfd mapping: lkey == rkey on rxe', mrA.lkey === mrA.rkey && mrA.length === 65536n,
    `lkey 0x${mrA.lkey.toString(16)} rkey 0x${mrA.rkey.toString(16)} addr 0x${mrA.addr.toString(16)}`);
  const local = addon.ibvRegMr(pd, a.view.subarray(PAGE, 2 * PAGE), LOCAL_WRITE);
  ok('local-only MR of a subarray: its address, and rkey == lkey', local.addr === mrA.addr + BigInt(PAGE) && local.rkey === local.lkey,
    `lkey 0x${local.lkey.toString(16)} rkey 0x${local.rkey.toString(16)}`);
  addon.ibvDeregMr(local.handle);
  fails('REMOTE_WRITE without LOCAL_WRITE', () => addon.ibvRegMr(pd, a.view, REMOTE_WRITE), 'EINVAL', 'ibv_reg_mr');
  fails('ibv_reg_mr of an empty view', () => addon.ibvRegMr(pd, new Uint8Array(0), LOCAL_WRITE), 'EINVAL', 'ibv_reg_mr');

  const udev = addon.open('/dev/udmabuf', O_RDWR | O_CLOEXEC);
  const pages = memfdMapping(16 * PAGE, true);
  const ubuf = addon.udmabufCreate(udev, { memfd: pages.fd, offset: 0n, size: BigInt(16 * PAGE) }, 1);
  fails('ibv_reg_dmabuf_mr of a udmabuf on rxe', () => addon.ibvRegDmabufMr(pd, 0n, BigInt(16 * PAGE), 0n, ubuf, LOCAL_WRITE), 'EOPNOTSUPP', 'ibv_reg_dmabuf_mr');
  fails('the fd -1 probe (NCCL, UCX)', () => addon.ibvRegDmabufMr(pd, 0n, 0n, 0n, -1, 0), 'EOPNOTSUPP', 'ibv_reg_dmabuf_mr');
  const umap = addon.mmap(ubuf, 16 * PAGE, PROT_RW, MAP_SHARED, 0n);
  fails('ibv_reg_mr of the udmabuf mapping (a PFN map)', () => addon.ibvRegMr(pd, umap, LOCAL_WRITE), 'EFAULT', 'ibv_reg_mr');
  addon.munmap(umap);
  const viaPages = addon.ibvRegMr(pd, pages.view, LOCAL_WRITE);
  ok('ibv_reg_mr of the udmabuf memfd pages', viaPages.lkey > 0);
  addon.ibvDeregMr(viaPages.handle);

  console.log('# completion channel, CQs, RC QPs');
  const channel = addon.ibvCreateCompChannel(ctx);
  ok('comp channel fd', channel.fd > 2 && addon.ibvGetCqEvent(channel.handle) === -1, `fd ${channel.fd}, no event: -1 without blocking`);
  const cqA = addon.ibvCreateCq(ctx, 64, channel.handle);
  const cqB = addon.ibvCreateCq(ctx, 64, channel.handle);
  const init = (cq) => ({ sendCq: cq, recvCq: cq, qpType: QPT_RC, sqSigAll: false,
    cap: { maxSendWr: 32, maxRecvWr: 32, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 64 } });
  const qpA = addon.ibvCreateQp(pd, init(cqA));
  const qpB = addon.ibvCreateQp(pd, init(cqB));
  ok('ibv_create_qp', qpA.qpNum > 0 && qpB.qpNum > 0 && qpA.cap.maxInlineData >= 64, `qpn ${qpA.qpNum}, ${qpB.qpNum}; granted ${JSON.stringify(qpA.cap)}`);
  fails('RESET to RTS', () => addon.ibvModifyQp(qpA.handle, { qpState: QPS_RTS }, QP_STATE), 'EINVAL', 'ibv_modify_qp');
  connect(qpA.handle, qpB.qpNum, gid);
  connect(qpB.handle, qpA.qpNum, gid);
  ok('both QPs INIT -> RTR -> RTS', true);

  console.log('# RDMA WRITE with immediate, READ, SEND');
  for (let i = 0; i < 4096; i++) a.view[i] = (i * 7 + 3) & 0xff;
  postRecv(qpB.handle, 100n);
  addon.ibvReqNotifyCq(cqB, false);
  const event = readable(channel.fd, 20000);
  post(qpA.handle, { id: 1n, opcode: WR_WRITE_IMM, addr: mrA.addr, length: 4096, lkey: mrA.lkey, remote: mrB.addr, rkey: mrB.rkey, imm: htonl(0x12345678) });
  let [wc] = await completions(cqA, 1);
  ok('write-imm completes at the sender', wc?.status === 0 && wc.opcode === WC_RDMA_WRITE && wc.id === 1n, JSON.stringify(wc, big));
  ok('the channel fd turns readable', (await event) === POLLIN);
  ok('ibv_get_cq_event names the receiver CQ', addon.ibvGetCqEvent(channel.handle) === cqB);
  fails('ack more events than were taken', () => addon.ibvAckCqEvents(cqB, 2), 'EINVAL', 'ibv_ack_cq_events');
  addon.ibvAckCqEvents(cqB, 1);
  [wc] = await completions(cqB, 1);
  ok('write-imm consumes a receive: imm and byte_len', wc?.status === 0 && wc.opcode === WC_RECV_RDMA_WITH_IMM && wc.byteLen === 4096 &&
    wc.imm === htonl(0x12345678) && (wc.flags & WC_WITH_IMM) !== 0 && wc.id === 100n && wc.qpNum === qpB.qpNum, JSON.stringify(wc, big));
  ok('the bytes arrived', Buffer.compare(a.view.subarray(0, 4096), b.view.subarray(0, 4096)) === 0);

  for (let i = 0; i < 4096; i++) b.view[8192 + i] = (i * 13) & 0xff;
  post(qpA.handle, { id: 2n, opcode: WR_READ, addr: mrA.addr + 16384n, length: 4096, lkey: mrA.lkey, remote: mrB.addr + 8192n, rkey: mrB.rkey });
  [wc] = await completions(cqA, 1);
  ok('RDMA READ', wc?.status === 0 && wc.opcode === WC_RDMA_READ && wc.byteLen === 4096 &&
    Buffer.compare(a.view.subarray(16384, 20480), b.view.subarray(8192, 12288)) === 0, JSON.stringify(wc, big));

  postRecv(qpB.handle, 200n, mrB.addr + 32768n, 4096, mrB.lkey);
  postRecv(qpB.handle, 201n, mrB.addr + 36864n, 4096, mrB.lkey);
  a.view.set(Buffer.from('inline hello'), 40000);
  post(qpA.handle,
    { id: 3n, opcode: WR_SEND, addr: mrA.addr, length: 100, lkey: mrA.lkey },
    { id: 4n, opcode: WR_SEND_IMM, flags: SEND_SIGNALED | SEND_INLINE, addr: mrA.addr + 40000n, length: 12, lkey: mrA.lkey, imm: htonl(7) });
  const sent = await completions(cqA, 2);
  ok('SEND and inline SEND-imm complete', sent.length === 2 && sent.every((c) => c.status === 0 && c.opcode === WC_SEND), JSON.stringify(sent, big));
  const recvd = await completions(cqB, 2);
  ok('RECVs: byte_len, imm, data', recvd.length === 2 && recvd[0].opcode === WC_RECV && recvd[0].byteLen === 100 &&
    recvd[1].byteLen === 12 && recvd[1].imm === htonl(7) && Buffer.from(b.view.subarray(36864, 36876)).toString() === 'inline hello', JSON.stringify(recvd, big));

  console.log('# requests the layout refuses');
  let e = fails('inline SGE outside every MR', () => post(qpA.handle, { opcode: WR_SEND, flags: SEND_SIGNALED | SEND_INLINE, addr: 4096n, length: 8, lkey: mrA.lkey }), 'EINVAL', 'ibv_post_send');
  ok('  index 0', e?.index === 0, e?.message);
  postRecv(qpB.handle, 300n);
  e = fails('an atomic after a good write', () => post(qpA.handle,
    { id: 5n, opcode: WR_WRITE, addr: mrA.addr, length: 64, lkey: mrA.lkey, remote: mrB.addr, rkey: mrB.rkey },
    { id: 6n, opcode: WR_ATOMIC_FETCH_ADD, addr: mrA.addr, length: 8, lkey: mrA.lkey, remote: mrB.addr, rkey: mrB.rkey }), 'EINVAL', 'ibv_post_send');
  ok('  index 1, and the write before it was posted', e?.index === 1 && (await completions(cqA, 1))[0]?.id === 5n, e?.message);
  fails('a PD handle where a QP goes', () => post(pd, { opcode: WR_SEND }), 'EBADF', 'ibv_post_send');
  try {
    addon.ibvPostSend(qpA.handle, new BigUint64Array(6), 2);
    ok('count past the array: TypeError', false);
  } catch (err) {
    ok('count past the array: TypeError', err instanceof TypeError, err.message);
  }

  console.log('# cost per call (the guest runs under TCG: compare with perftest run here, not with real hardware)');
  const out = new BigUint64Array(WC_WORDS * 16);
  const perCall = (n, fn) => {
    for (let i = 0; i < n; i++) fn();
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t) / n / 1e3;
  };
  const floor = perCall(5000, () => addon.ibvAsyncFd(ctx));
  const emptyPoll = perCall(5000, () => addon.ibvPollCq(cqA, out));
  const rounds = 500;
  const one = new BigUint64Array(SEND_WR_WORDS);
  sendWr(one, 0, { id: 9n, opcode: WR_WRITE, addr: mrA.addr, length: 64, lkey: mrA.lkey, remote: mrB.addr, rkey: mrB.rkey });
  let postNs = 0n;
  let t0 = 0n;
  for (let i = -50; i < rounds; i++) {
    if (i === 0) (t0 = process.hrtime.bigint()), (postNs = 0n);
    const t = process.hrtime.bigint();
    addon.ibvPostSend(qpA.handle, one, 1);
    postNs += process.hrtime.bigint() - t;
    while (addon.ibvPollCq(cqA, out) === 0);
  }
  const roundTrip = Number(process.hrtime.bigint() - t0) / rounds / 1e3;
  console.log(`     ${floor.toFixed(2)} us a call that only finds its handle (ibvAsyncFd), ${emptyPoll.toFixed(2)} us an ibvPollCq of an empty CQ`);
  console.log(`     64-byte RDMA WRITE, post then poll until done: ${roundTrip.toFixed(1)} us a round, ${(Number(postNs) / rounds / 1e3).toFixed(1)} us in ibvPostSend (rxe's doorbell is a write(2) to uverbs)`);
  const batch = new BigUint64Array(SEND_WR_WORDS * 16);
  for (let i = 0; i < 16; i++) sendWr(batch, i, { id: BigInt(1000 + i), opcode: WR_WRITE, addr: mrA.addr, length: 64, lkey: mrA.lkey, remote: mrB.addr, rkey: mrB.rkey });
  addon.ibvPostSend(qpA.handle, batch, 16);
  const sixteen = await completions(cqA, 16);
  ok('16 requests in one post, in order', sixteen.length === 16 && sixteen.every((c, i) => c.status === 0 && c.id === BigInt(1000 + i)));

  console.log('# errors rxe gives');
  addon.ibvDeregMr(mrB.handle);
  post(qpA.handle, { id: 7n, opcode: WR_WRITE, addr: mrA.addr, length: 64, lkey: mrA.lkey, remote: mrB.addr, rkey: mrB.rkey });
  [wc] = await completions(cqA, 1);
  ok('write with a deregistered rkey: REM_ACCESS_ERR (10)', wc?.status === 10, JSON.stringify(wc, big));
  post(qpA.handle, { id: 8n, opcode: WR_WRITE, addr: mrA.addr, length: 64, lkey: mrA.lkey, remote: mrB.addr, rkey: mrB.rkey });
  [wc] = await completions(cqA, 1);
  ok('the next one: WR_FLUSH_ERR (5)', wc?.status === 5, JSON.stringify(wc, big));
  await sleep(100);
  const events = [];
  for (let ev; (ev = addon.ibvGetAsyncEvent(ctx));) events.push(ev);
  console.log(`     async events: ${JSON.stringify(events)} (QP handles ${qpA.handle}, ${qpB.handle})`);
  e = fails('ibv_dealloc_pd with a live MR', () => addon.ibvDeallocPd(pd), 'EBUSY', 'ibv_dealloc_pd');
  fails('ibv_close_device with live objects', () => addon.ibvCloseDevice(ctx), 'EBUSY', 'ibv_close_device');
  fails('ibv_destroy_comp_channel with CQs on it', () => addon.ibvDestroyCompChannel(channel.handle), 'EBUSY', 'ibv_destroy_comp_channel');
  fails('ibv_destroy_cq under a QP', () => addon.ibvDestroyCq(cqA), 'EBUSY', 'ibv_destroy_cq');

  console.log('# teardown, children first');
  addon.ibvDestroyQp(qpA.handle);
  addon.ibvDestroyQp(qpB.handle);
  addon.ibvDeregMr(mrA.handle);
  addon.ibvReqNotifyCq(cqA, false);
  addon.ibvDestroyCq(cqA);
  addon.ibvDestroyCq(cqB);
  addon.ibvDestroyCompChannel(channel.handle);
  addon.ibvDeallocPd(pd);
  addon.ibvCloseDevice(ctx);
  ok('everything destroyed', true);
  fails('a stale PD handle', () => addon.ibvAllocPd(ctx), 'EBADF', 'ibv_alloc_pd');
  fails('a stale MR handle', () => addon.ibvDeregMr(mrA.handle), 'EBADF', 'ibv_dereg_mr');
  for (const m of [a, b, pages]) (addon.munmap(m.view), addon.close(m.fd));
  addon.close(ubuf);
  addon.close(udev);

  console.log('# a worker that leaves everything open');
  const code = await new Promise((resolve) => {
    const w = new Worker(`
      const a = require(${JSON.stringify(ADDON)});
      const ctx = a.ibvOpenDevice('rxe0'), pd = a.ibvAllocPd(ctx), ch = a.ibvCreateCompChannel(ctx);
      const cq = a.ibvCreateCq(ctx, 16, ch.handle);
      a.ibvRegMr(pd, new Uint8Array(8192), 1);
      a.ibvCreateQp(pd, { sendCq: cq, recvCq: cq, qpType: 2, sqSigAll: true, cap: { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } });
      a.ibvReqNotifyCq(cq, false);`, { eval: true });
    w.on('error', (err) => (console.log(`     worker: ${err.message}`), resolve(-1)));
    w.on('exit', resolve);
  });
  ok('its exit releases them', code === 0, `exit code ${code}`);

  console.log('# RLIMIT_MEMLOCK without CAP_IPC_LOCK');
  const child = spawnSync('setpriv', ['--bounding-set', '-ipc_lock', '--inh-caps', '-ipc_lock', '--', 'bash', '-c',
    `ulimit -l 64 && exec "${process.execPath}" "${__filename}" --memlock-child`], { encoding: 'utf8' });
  let r = {};
  try {
    r = JSON.parse(child.stdout.trim().split('\n').pop());
  } catch {
    console.log(child.stdout, child.stderr);
  }
  ok('16 KiB fits a 64 KiB limit', r.kib16 === 'ok', JSON.stringify(r));
  ok('1 MiB does not: ENOMEM', r.mib1 === 'ENOMEM ibv_reg_mr');
  ok('a limit of 0: EPERM', r.zeroLimit === 'EPERM ibv_reg_mr');

  console.log(`# ${failures ? `${failures} failed` : 'all passed'} in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);
  process.exitCode = failures ? 1 : 0;
}

function big(key, value) {
  return typeof value === 'bigint' ? value.toString() : value;
}

if (process.argv[2] === '--memlock-child') {
  memlockChild();
} else {
  main().catch((e) => {
    console.log(`FAIL threw: ${e.stack}`);
    process.exitCode = 1;
  });
}
