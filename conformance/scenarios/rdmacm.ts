// rdma_cm over the NIC's rxe1, a process connecting to its own address:
// event channels, ids, bind, listen, address and route resolution, connect,
// accept and reject with their private data, traffic on the connected QPs,
// and disconnection.
import { RDMA_PS_TCP } from '../../seam/rdmacm-uapi';
import * as uapi from '../../seam/uapi';
import { showEvents } from '../fixtures';
import { cq, pd } from '../rdma';
import { bytes, Cm, completed, ephemeral, HERE, param, postOn, QUIET_MS, recvOn, UNUSED_PORT } from '../rdmacm';
import { area, type Device } from '../scenario';

const { list, add } = area('rdmacm');
export default list;
const needs: Device[] = ['nic'];
const NO_ROUTE = '192.0.2.1';
/** On the NIC's subnet, and nobody has it. */
const NOBODY = '10.99.0.77';

// Event channels.

add('a new event channel is not readable and has no event', needs, (t) => {
  const ch = new Cm(t).channel();
  t.step('poll', (k) => k.poll(ch.fd, uapi.POLLIN), showEvents);
  t.step('get_cm_event', (k) => k.rdmaGetCmEvent(ch.handle));
});

add('an event channel is readable while an event is pending, and not once it is taken', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const id = cm.id(ch, 'client');
  t.must('resolve_addr', (k) => k.rdmaResolveAddr(id, null, { host: HERE, port: UNUSED_PORT }, 2000));
  let readable = 0;
  for (let deadline = Date.now() + 8000; !readable && Date.now() < deadline;) {
    readable = t.k.poll(ch.fd, uapi.POLLIN);
    if (!readable) await new Promise((r) => setTimeout(r, 2));
  }
  t.note('poll until readable', showEvents(readable));
  t.step('get_cm_event', (k) => k.rdmaGetCmEvent(ch.handle), (e) => e && cm.show(e));
  t.step('poll again', (k) => k.poll(ch.fd, uapi.POLLIN), showEvents);
});

add('destroying an event channel an id uses is EBUSY; once the id is gone it works', needs, (t) => {
  const ch = t.must('create event channel', (k) => k.rdmaCreateEventChannel(), () => 'made');
  const id = t.must('create id', (k) => k.rdmaCreateId(ch.handle, RDMA_PS_TCP), () => 'made');
  t.step('destroy the channel', (k) => k.rdmaDestroyEventChannel(ch.handle));
  t.step('destroy the id', (k) => k.rdmaDestroyId(id));
  t.step('destroy the channel', (k) => k.rdmaDestroyEventChannel(ch.handle));
});

add('a destroyed channel and a destroyed id are EBADF', needs, (t) => {
  const ch = t.must('create event channel', (k) => k.rdmaCreateEventChannel(), () => 'made');
  const id = t.must('create id', (k) => k.rdmaCreateId(ch.handle, RDMA_PS_TCP), () => 'made');
  t.step('destroy the id', (k) => k.rdmaDestroyId(id));
  t.step('query the destroyed id', (k) => k.rdmaQueryId(id), () => 'queried');
  t.step('bind the destroyed id', (k) => k.rdmaBindAddr(id, { host: HERE, port: 0 }));
  t.step('destroy the id again', (k) => k.rdmaDestroyId(id));
  t.step('destroy the channel', (k) => k.rdmaDestroyEventChannel(ch.handle));
  t.step('create an id on the destroyed channel', (k) => k.rdmaCreateId(ch.handle, RDMA_PS_TCP), () => 'made');
  t.step('get_cm_event on the destroyed channel', (k) => k.rdmaGetCmEvent(ch.handle));
});

// Ids.

add('create_id with RDMA_PS_TCP: an id bound to nothing', needs, (t) => {
  const cm = new Cm(t);
  const id = cm.id(cm.channel(), 'id');
  t.step('query', (k) => k.rdmaQueryId(id));
});

add('create_id with port space 0x999 is EINVAL', needs, (t) => {
  const ch = new Cm(t).channel();
  t.step('create id 0x999', (k) => { const id = k.rdmaCreateId(ch.handle, 0x999); k.rdmaDestroyId(id); return 'made'; });
});

add('destroy_id while the id has a QP is EBUSY; after ibvDestroyQp it works', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const s = cm.equip(await cm.resolved(ch, UNUSED_PORT), 'client');
  t.step('destroy the id', (k) => k.rdmaDestroyId(s.id));
  t.drop('qp', s.qp);
  t.step('destroy the QP', (k) => k.ibvDestroyQp(s.qp.handle));
  t.drop('id', s.id);
  t.step('destroy the id', (k) => k.rdmaDestroyId(s.id));
});

add('rdma_create_qp on an id bound to no device is EINVAL', needs, (t) => {
  const cm = new Cm(t);
  const id = cm.id(cm.channel(), 'id');
  const ctx = t.own('context', 'open rxe1', (k) => k.ibvOpenDevice('rxe1'), (c) => t.k.ibvCloseDevice(c));
  const p = pd(t, ctx);
  const c = cq(t, ctx);
  t.step('create qp', (k) => k.rdmaCreateQp(id, p, { sendCq: c, recvCq: c, qpType: 2, sqSigAll: false, cap: { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } }), () => 'made');
});

// Bind.

add('bind to the NIC address, port 0: an ephemeral port, on rxe1 port 1', needs, (t) => {
  const cm = new Cm(t);
  const id = cm.id(cm.channel(), 'id');
  t.step('bind 10.99.0.1:0', (k) => k.rdmaBindAddr(id, { host: HERE, port: 0 }));
  cm.query('query', id);
});

add('bind to an address no interface has is EADDRNOTAVAIL', needs, (t) => {
  const cm = new Cm(t);
  const id = cm.id(cm.channel(), 'id');
  t.step(`bind ${NO_ROUTE}:0`, (k) => k.rdmaBindAddr(id, { host: NO_ROUTE, port: 0 }));
});

add('bind the address and port another id holds is EADDRINUSE', needs, (t) => {
  const { port, second } = new Cm(t).portHeld(HERE);
  t.step("bind second to first's address and port", (k) => k.rdmaBindAddr(second, { host: HERE, port }));
});

add('bind the wildcard to a port the NIC address holds is EADDRNOTAVAIL', needs, (t) => {
  const { port, second } = new Cm(t).portHeld(HERE);
  t.step("bind second to 0.0.0.0 on first's port", (k) => k.rdmaBindAddr(second, { host: '0.0.0.0', port }));
});

add('bind the NIC address to a port the wildcard holds is EADDRNOTAVAIL', needs, (t) => {
  const { port, second } = new Cm(t).portHeld('0.0.0.0');
  t.step("bind second to 10.99.0.1 on first's port", (k) => k.rdmaBindAddr(second, { host: HERE, port }));
});

add('bind 127.0.0.1 twice on one port is EADDRNOTAVAIL: loopback counts as a wildcard', needs, (t) => {
  const { port, second } = new Cm(t).portHeld('127.0.0.1');
  t.step("bind second to 127.0.0.1 on first's port", (k) => k.rdmaBindAddr(second, { host: '127.0.0.1', port }));
});

add('bind to 127.0.0.1 binds no device', needs, (t) => {
  const cm = new Cm(t);
  const id = cm.id(cm.channel(), 'id');
  t.step('bind 127.0.0.1:0', (k) => k.rdmaBindAddr(id, { host: '127.0.0.1', port: 0 }));
  cm.query('query', id);
});

add('bind an id that is bound already is EINVAL', needs, (t) => {
  const cm = new Cm(t);
  const id = cm.id(cm.channel(), 'id');
  t.must('bind 10.99.0.1:0', (k) => k.rdmaBindAddr(id, { host: HERE, port: 0 }));
  t.step('bind 10.99.0.1:0 again', (k) => k.rdmaBindAddr(id, { host: HERE, port: 0 }));
});

add('after a bind failed with EADDRINUSE, binding the id to an address its netdev lacks is ENODEV', needs, (t) => {
  const { port, second } = new Cm(t).portHeld(HERE);
  t.step("bind second to first's address and port", (k) => k.rdmaBindAddr(second, { host: HERE, port }));
  t.step(`bind second to ${NO_ROUTE}:0`, (k) => k.rdmaBindAddr(second, { host: NO_ROUTE, port: 0 }));
  t.step('bind second to 10.99.0.1:0', (k) => k.rdmaBindAddr(second, { host: HERE, port: 0 }));
});

// Listen.

add('listen on an unbound id binds 0.0.0.0 and an ephemeral port, no device; listening again is EINVAL', needs, (t) => {
  const cm = new Cm(t);
  const id = cm.id(cm.channel(), 'listener');
  t.step('listen', (k) => k.rdmaListen(id, 8));
  cm.query('query', id);
  t.step('listen again', (k) => k.rdmaListen(id, 8));
});

add('listen on an id bound to the NIC address keeps its port and device', needs, (t) => {
  const cm = new Cm(t);
  const id = cm.id(cm.channel(), 'listener');
  t.must('bind 10.99.0.1:0', (k) => k.rdmaBindAddr(id, { host: HERE, port: 0 }));
  const port = t.k.rdmaQueryId(id).local.port;
  t.step('listen', (k) => k.rdmaListen(id, 8));
  cm.query('query', id, (info) => ({ samePort: info.local.port === port }));
});

// Address and route resolution.

add('resolve_addr to the NIC address: ADDR_RESOLVED, the id on rxe1 with an ephemeral source port', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const id = cm.id(ch, 'client');
  t.step('resolve_addr 10.99.0.1:7471', (k) => k.rdmaResolveAddr(id, null, { host: HERE, port: 7471 }, 2000));
  await cm.event('event', ch);
  cm.query('query', id, (info) => ({ local: ephemeral(info.local.port), remote: info.remote.port }));
});

add('resolve_addr to an address on the subnet nobody answers: ADDR_ERROR -110 at the timeout', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const id = cm.id(ch, 'client');
  t.step(`resolve_addr ${NOBODY} in 500 ms`, (k) => k.rdmaResolveAddr(id, null, { host: NOBODY, port: 7471 }, 500));
  await cm.event('event', ch);
});

add('resolve_addr to an address with no route is ENETUNREACH at once, with no event', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const id = cm.id(ch, 'client');
  t.step(`resolve_addr ${NO_ROUTE}`, (k) => k.rdmaResolveAddr(id, null, { host: NO_ROUTE, port: 7471 }, 500));
  await cm.quiet('no event', ch);
  t.step('resolve_route', (k) => k.rdmaResolveRoute(id, 500));
});

add('resolve_route after ADDR_RESOLVED: ROUTE_RESOLVED', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const id = cm.id(ch, 'client');
  t.must('resolve_addr 10.99.0.1:7471', (k) => k.rdmaResolveAddr(id, null, { host: HERE, port: 7471 }, 2000));
  await cm.expect('address resolved', ch, 'addr-resolved');
  t.step('resolve_route', (k) => k.rdmaResolveRoute(id, 2000));
  await cm.event('event', ch);
  cm.query('query', id, (info) => ({ local: ephemeral(info.local.port), remote: info.remote.port }));
});

add('resolve_route before an address is resolved is EINVAL', needs, (t) => {
  const cm = new Cm(t);
  const id = cm.id(cm.channel(), 'client');
  t.step('resolve_route', (k) => k.rdmaResolveRoute(id, 2000));
});

add('resolve 127.0.0.1: ADDR_RESOLVED on rxe0, then resolve_route is ENODEV', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const id = cm.id(ch, 'client');
  t.must('resolve_addr 127.0.0.1:7471', (k) => k.rdmaResolveAddr(id, null, { host: '127.0.0.1', port: 7471 }, 2000));
  await cm.event('event', ch);
  cm.query('query', id, (info) => ({ remote: info.remote.port }));
  t.step('resolve_route', (k) => k.rdmaResolveRoute(id, 2000));
});

// Connect and accept.

add("CONNECT_REQUEST: 56 bytes of private data, the requester's parameters as the CM delivers them, its QP number", needs, async (t) => {
  const cm = new Cm(t);
  const { sch, listener, client } = await cm.readyToConnect();
  t.step('connect with 10 bytes, responder resources 2, initiator depth 3, retries 5 and 6', (k) =>
    k.rdmaConnect(client.id, param(bytes(10), { responderResources: 2, initiatorDepth: 3, retryCount: 5, rnrRetryCount: 6 })));
  const request = await cm.event('server: event', sch, 'server');
  const padded = new Uint8Array(56);
  padded.set(bytes(10));
  if (!request) return;
  t.note('the data sent, then zeros', request.privateData.length === 56 && request.privateData.every((b, i) => b === padded[i]));
  const mine = t.k.rdmaQueryId(client.id);
  const theirs = cm.query('query the new id', request.id, (info) => ({
    local: info.local.port === listener.port ? "the listener's" : info.local.port,
    remote: info.remote.port === mine.local.port ? "the client's" : info.remote.port,
  }));
  t.note('the new id shares the client id\'s context', theirs?.context === mine.context);
});

add("the active side's ESTABLISHED: the REP's 196 bytes and parameters, the passive QP's number", needs, async (t) => {
  const cm = new Cm(t);
  const { cch, request } = await cm.requested(param(bytes(4), { responderResources: 3, initiatorDepth: 2 }));
  const server = cm.equip(request.id, 'server');
  t.step('accept with 3 bytes, responder resources 1, initiator depth 2, rnr retries 4', (k) =>
    k.rdmaAccept(server.id, param(bytes(3, 9), { responderResources: 1, initiatorDepth: 2, rnrRetryCount: 4 })));
  await cm.event('client: event', cch);
});

add("the passive side's ESTABLISHED carries no private data and all-zero parameters", needs, async (t) => {
  const cm = new Cm(t);
  const { cch, sch, request } = await cm.requested(param(bytes(4)));
  const server = cm.equip(request.id, 'server');
  t.must('accept with 8 bytes', (k) => k.rdmaAccept(server.id, param(bytes(8))));
  await cm.expect('client: established', cch, 'established');
  await cm.event('server: event', sch);
});

add('the CONNECT_REQUEST of an id connecting without a QP carries QP number 0', needs, async (t) => {
  const cm = new Cm(t);
  const cch = cm.channel('create the client channel');
  const sch = cm.channel('create the server channel');
  const listener = cm.listener(sch);
  const client = await cm.resolved(cch, listener.port);
  t.step('connect', (k) => k.rdmaConnect(client, param()));
  const request = await cm.event('server: event', sch, 'server');
  if (request) t.step('reject', (k) => k.rdmaReject(request.id, new Uint8Array(0)));
  await cm.event('client: event', cch);
});

add('retry counts above 7 are taken, and reach the peer as 7', needs, async (t) => {
  const cm = new Cm(t);
  const { sch, client } = await cm.readyToConnect();
  t.step('connect with retries 200 and rnr retries 255', (k) => k.rdmaConnect(client.id, param(undefined, { retryCount: 200, rnrRetryCount: 255 })));
  await cm.event('server: event', sch, 'server');
});

add("connect asking more responder resources than rxe's 128 is EINVAL", needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const client = cm.equip(await cm.resolved(ch, UNUSED_PORT), 'client');
  t.step('connect with responder resources 254', (k) => k.rdmaConnect(client.id, param(undefined, { responderResources: 254 })));
  t.step('connect with initiator depth 129', (k) => k.rdmaConnect(client.id, param(undefined, { initiatorDepth: 129 })));
});

add('connect with 57 bytes of private data is EINVAL; 56 are sent', needs, async (t) => {
  const cm = new Cm(t);
  const { sch, client } = await cm.readyToConnect();
  t.step('connect with 57 bytes', (k) => k.rdmaConnect(client.id, param(bytes(57))));
  t.step('connect with 56 bytes', (k) => k.rdmaConnect(client.id, param(bytes(56))));
  await cm.event('server: event', sch, 'server');
});

add('accept with 197 bytes is EINVAL and rejects the request: REJECTED 28 with 148 zero bytes', needs, async (t) => {
  const cm = new Cm(t);
  const { cch, request } = await cm.requested();
  const server = cm.equip(request.id, 'server');
  t.step('accept with 197 bytes', (k) => k.rdmaAccept(server.id, param(bytes(197))));
  await cm.event('client: event', cch);
  t.step('accept again', (k) => k.rdmaAccept(server.id, param()));
  t.step('reject', (k) => k.rdmaReject(server.id, new Uint8Array(0)));
});

add('accept with 196 bytes delivers them all', needs, async (t) => {
  const cm = new Cm(t);
  const { cch, request } = await cm.requested();
  const server = cm.equip(request.id, 'server');
  t.step('accept with 196 bytes', (k) => k.rdmaAccept(server.id, param(bytes(196))));
  const e = await cm.event('client: event', cch);
  if (e) t.note('the bytes sent', e.privateData.every((b, i) => b === bytes(196)[i]));
});

add('a send posted on the active QP before it connects is EINVAL: rdma_create_qp leaves it in INIT', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const client = cm.equip(await cm.resolved(ch, UNUSED_PORT), 'client');
  postOn(t, 'client: post send', client, 'SEND', 16, 1n);
});

add('the passive QP takes a send once accept returns; it lands once the active side is established', needs, async (t) => {
  const cm = new Cm(t);
  const { cch, client, request } = await cm.requested();
  const server = cm.equip(request.id, 'server');
  t.must('accept', (k) => k.rdmaAccept(server.id, param()));
  postOn(t, 'server: post send after accept', server, 'SEND', 16, 3n);
  recvOn(t, 'client: post recv', client, 64, 4n);
  await cm.expect('client: established', cch, 'established');
  await completed(t, 'client: completions', client, 1);
  await completed(t, 'server: completions', server, 1);
});

// Reject.

add('reject: REJECTED status 28 with the reject data, padded to 148 bytes', needs, async (t) => {
  const cm = new Cm(t);
  const { cch, request } = await cm.requested();
  t.step('reject with 5 bytes', (k) => k.rdmaReject(request.id, bytes(5)));
  const e = await cm.event('client: event', cch);
  if (e) t.note('the bytes sent, then zeros', e.privateData.every((b, i) => b === (i < 5 ? bytes(5)[i] : 0)));
  t.step('accept after reject', (k) => k.rdmaAccept(request.id, param()));
});

add('reject with 149 bytes is EINVAL; 148 are delivered', needs, async (t) => {
  const cm = new Cm(t);
  const { cch, request } = await cm.requested();
  t.step('reject with 149 bytes', (k) => k.rdmaReject(request.id, bytes(149)));
  t.step('reject with 148 bytes', (k) => k.rdmaReject(request.id, bytes(148)));
  await cm.event('client: event', cch);
});

add('connect to a port nobody listens on: REJECTED status 8 with 148 zero bytes', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const client = cm.equip(await cm.resolved(ch, UNUSED_PORT), 'client');
  t.step('connect', (k) => k.rdmaConnect(client.id, param(bytes(8))));
  await cm.event('event', ch);
});

add('after REJECTED the QP is in ERR: a send posted then flushes (5)', needs, async (t) => {
  const cm = new Cm(t);
  const ch = cm.channel();
  const client = cm.equip(await cm.resolved(ch, UNUSED_PORT), 'client');
  t.must('connect', (k) => k.rdmaConnect(client.id, param()));
  await cm.expect('rejected', ch, 'rejected');
  postOn(t, 'post send', client, 'SEND', 16, 7n);
  await completed(t, 'completions', client, 1);
});

add('on an id waiting for its reply (with a QP), accept and a second connect are EINVAL', needs, async (t) => {
  const cm = new Cm(t);
  const { client } = await cm.requested();
  t.step('accept on the client', (k) => k.rdmaAccept(client.id, param()));
  t.step('connect again', (k) => k.rdmaConnect(client.id, param()));
});

// Traffic on the connected QPs.

add('SEND over the connection lands in the posted receive', needs, async (t) => {
  const { client, server } = await new Cm(t).connected();
  client.buf.set(bytes(4096, 3));
  recvOn(t, 'server: post recv', server, 1024, 10n);
  postOn(t, 'client: post send of 1000 bytes', client, 'SEND', 1000, 11n);
  await completed(t, 'client: completions', client, 1);
  await completed(t, 'server: completions', server, 1);
  t.note('server bytes', server.buf.subarray(0, 1024));
});

add("RDMA WRITE into the peer's MR moves the bytes", needs, async (t) => {
  const { client, server } = await new Cm(t).connected();
  client.buf.set(bytes(4096, 5));
  postOn(t, 'client: post write of 4096 bytes', client, 'RDMA_WRITE', 4096, 12n, server);
  await completed(t, 'client: completions', client, 1);
  t.note('server bytes', server.buf);
});

add("RDMA READ from the peer's MR fetches the bytes", needs, async (t) => {
  const { client, server } = await new Cm(t).connected();
  server.buf.set(bytes(4096, 11));
  postOn(t, 'client: post read of 4096 bytes', client, 'RDMA_READ', 4096, 13n, server);
  await completed(t, 'client: completions', client, 1);
  t.note('client bytes', client.buf);
});

add('a send with no receive posted waits, and lands once one is (rnr retries 7)', needs, async (t) => {
  const { client, server } = await new Cm(t).connected();
  client.buf.set(bytes(64, 2));
  postOn(t, 'client: post send', client, 'SEND', 64, 14n);
  await t.elapse(50);
  recvOn(t, 'server: post recv', server, 64, 15n);
  await completed(t, 'server: completions', server, 1);
  await completed(t, 'client: completions', client, 1);
  t.note('server bytes', server.buf.subarray(0, 64));
});

// Disconnect.

add('disconnect: the peer gets DISCONNECTED, the initiator nothing yet', needs, async (t) => {
  const cm = new Cm(t);
  const { cch, sch, client } = await cm.connected();
  t.step('client: disconnect', (k) => k.rdmaDisconnect(client.id));
  await cm.event('server: event', sch);
  await cm.quiet(`client: nothing within ${QUIET_MS} ms`, cch);
});

add('disconnect: the initiator gets DISCONNECTED once the peer disconnects too, then each side TIMEWAIT_EXIT', needs, async (t) => {
  const cm = new Cm(t);
  const { cch, sch, client, server } = await cm.connected();
  t.must('client: disconnect', (k) => k.rdmaDisconnect(client.id));
  await cm.expect('server: disconnected', sch, 'disconnected');
  t.step('server: disconnect', (k) => k.rdmaDisconnect(server.id));
  await cm.event('client: event', cch);
  await cm.event('client: next event', cch);
  await cm.event('server: next event', sch);
});

add('disconnect flushes the outstanding receives (5)', needs, async (t) => {
  const { client } = await new Cm(t).connected();
  recvOn(t, 'client: post recv', client, 64, 41n);
  recvOn(t, 'client: post recv', client, 64, 42n);
  t.step('client: disconnect', (k) => k.rdmaDisconnect(client.id));
  await completed(t, 'client: completions', client, 2);
  postOn(t, 'client: post send after disconnect', client, 'SEND', 16, 43n);
  await completed(t, 'client: completions', client, 1);
});

add('disconnect twice returns 0; on a resolved id that never connected it is EINVAL; on a listener 0', needs, async (t) => {
  const cm = new Cm(t);
  const { client } = await cm.connected();
  t.step('client: disconnect', (k) => k.rdmaDisconnect(client.id));
  t.step('client: disconnect again', (k) => k.rdmaDisconnect(client.id));
  const ch = cm.channel();
  const never = await cm.resolved(ch, UNUSED_PORT, 'never');
  t.step('disconnect the id that never connected', (k) => k.rdmaDisconnect(never));
  const listener = cm.listener(ch);
  t.step('disconnect the listener', (k) => k.rdmaDisconnect(listener.id));
});

add('destroying a connected id: the peer gets DISCONNECTED', needs, async (t) => {
  const cm = new Cm(t);
  const { sch, client } = await cm.connected();
  t.drop('qp', client.qp);
  t.step('client: destroy the QP', (k) => k.ibvDestroyQp(client.qp.handle));
  t.drop('id', client.id);
  t.step('client: destroy the id', (k) => k.rdmaDestroyId(client.id));
  await cm.event('server: event', sch);
});
