#!/usr/bin/env node
// rping's exchange (rdma-core's librdmacm/examples/rping.c) over dmabridge,
// speaking its wire protocol so either side can be the real rping:
//
//   client: SEND its start buffer's location (struct rping_rdma_info:
//           be64 addr, be32 rkey, be32 size)
//   server: RDMA READ the ping data from it, SEND "go ahead"
//   client: SEND its sink buffer's location
//   server: RDMA WRITE the data back into the sink, SEND "go ahead"
//   client: check the sink against what it sent; repeat
//
// The RDMA buffers are udmabufs, read and written through their dma-buf
// views. Options as rping's: -s | -c, -a addr, -p port (7174), -C count,
// -S size (64), -v (print the data), -V (validate it).
//
//   node dist/examples/rping.js -s -a 10.99.0.1 -v
//   node dist/examples/rping.js -c -a 10.99.0.1 -C 10 -v -V
//
// (In a project of your own, import from 'dmabridge'.)
import { decodeRemoteBuffer, encodeRemoteBuffer, open, REMOTE_BUFFER_BYTES } from '../src';
import type { DmaBridge, DmaBuf, DmaBufMapping, MemoryRegion, ProtectionDomain, RdmaConnection } from '../src';

const RECV = 1n, SEND = 2n, RDMA = 3n;

interface Options {
  server: boolean;
  host: string;
  port: number;
  count: number;
  size: number;
  verbose: boolean;
  validate: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Omit<Options, 'server' | 'host'> & { server?: boolean; host?: string } = { server: undefined, host: undefined, port: 7174, count: 0, size: 64, verbose: false, validate: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '-s') o.server = true;
    else if (a === '-c') o.server = false;
    else if (a === '-a') o.host = value();
    else if (a === '-p') o.port = Number(value());
    else if (a === '-C') o.count = Number(value());
    else if (a === '-S') o.size = Number(value());
    else if (a === '-v') o.verbose = true;
    else if (a === '-V') o.validate = true;
    else usage(`unknown option ${a}`);
  }
  if (o.server === undefined) usage('say -s (server) or -c (client)');
  if (!o.server && !o.host) usage('a client needs -a addr');
  // rping's limits: room for "rdma-ping-<INT_MAX>: " and under 64 KiB.
  if (!Number.isInteger(o.size) || o.size < 26 || o.size > 65535) usage('-S takes 26 to 65535');
  return { ...o, server: o.server, host: o.host ?? '0.0.0.0' };
}

function usage(why: string): never {
  console.error(`rping: ${why}\nusage: rping -s [-vV] [-S size] [-a addr] [-p port]\n       rping -c [-vV] [-S size] [-C count] -a addr [-p port]`);
  process.exit(2);
}

/** rping's ping data: "rdma-ping-N: " then letters from 'A'+N, 'A'..'z' cycling, NUL-terminated. */
function fillPing(view: Uint8Array, size: number, ping: number, start: number): void {
  const head = new TextEncoder().encode(`rdma-ping-${ping}: `);
  view.set(head.subarray(0, size));
  for (let i = head.length, c = start; i < size; i++) {
    view[i] = c;
    c = c >= 122 ? 65 : c + 1;
  }
  view[size - 1] = 0;
}

function cString(view: Uint8Array): string {
  const end = view.indexOf(0);
  return new TextDecoder().decode(view.subarray(0, end < 0 ? view.length : end));
}

interface RdmaBuffer {
  buf: DmaBuf;
  mr: MemoryRegion;
  map: DmaBufMapping;
}

/** The 16-byte message slots of one side, registered. */
function messages(pd: ProtectionDomain) {
  const recv = new Uint8Array(new SharedArrayBuffer(REMOTE_BUFFER_BYTES)), send = new Uint8Array(new SharedArrayBuffer(REMOTE_BUFFER_BYTES));
  return { recv, send, recvMr: pd.register(recv, { access: ['local-write'] }), sendMr: pd.register(send) };
}

/** A udmabuf the peer may read and write, with its view. Closing the buffer closes the rest. */
function rdmaBuffer(dmb: DmaBridge, pd: ProtectionDomain, size: number, name: string): RdmaBuffer {
  const buf = dmb.createUdmabuf(4096 * Math.ceil(size / 4096), { name: `rping-${name}` });
  const mr = pd.registerDmaBuf(buf, { fallback: 'memfd-pages', access: ['local-write', 'remote-read', 'remote-write'] });
  return { buf, mr, map: buf.map('rw') };
}

/** Completions in order, until one with `opcode`; null once the connection is gone. */
async function until(conn: RdmaConnection, opcode: string) {
  for (;;) {
    const wc = await conn.cq.next();
    if (wc.status === 'wr-flush-error' && conn.state === 'disconnected') return null;
    if (wc.status !== 'success') throw new Error(`cq completion failed status ${wc.statusCode} (${wc.status})`);
    if (wc.opcode === opcode) return wc;
  }
}

async function server(dmb: DmaBridge, o: Options): Promise<void> {
  using listener = dmb.listenRdma({ host: o.host, port: o.port });
  using request = await listener.next();
  using pd = request.device.allocPd();
  const b = { ...messages(pd), rdma: rdmaBuffer(dmb, pd, o.size, 'rdma') };
  using _buf = b.rdma.buf;
  const recvWr = { local: { mr: b.recvMr }, id: RECV };
  using conn = await request.accept({ pd, maxSendWr: 16, maxRecvWr: 2, cqSize: 32, receives: [recvWr] });
  for (;;) {
    // The client's start buffer: read the ping from it.
    if (!(await until(conn, 'recv'))) break;
    let remote = decodeRemoteBuffer(b.recv);
    conn.qp.postRecv([recvWr]);
    conn.qp.postSend([{ opcode: 'read', local: { mr: b.rdma.mr, length: Number(remote.length) }, remote, id: RDMA }]);
    if (!(await until(conn, 'rdma-read'))) break;
    let text: string;
    {
      using _ = b.rdma.map.begin('read');
      text = cString(b.rdma.map.view);
    }
    if (o.verbose) console.log(`server ping data: ${text}`);
    conn.qp.postSend([{ opcode: 'send', local: { mr: b.sendMr }, id: SEND }]);
    // The client's sink: write the ping back into it.
    if (!(await until(conn, 'recv'))) break;
    remote = decodeRemoteBuffer(b.recv);
    conn.qp.postRecv([recvWr]);
    conn.qp.postSend([{ opcode: 'write', local: { mr: b.rdma.mr, length: Buffer.byteLength(text) + 1 }, remote, id: RDMA }]);
    if (!(await until(conn, 'rdma-write'))) break;
    conn.qp.postSend([{ opcode: 'send', local: { mr: b.sendMr }, id: SEND }]);
  }
  console.error('server DISCONNECT EVENT...');
}

async function client(dmb: DmaBridge, o: Options): Promise<void> {
  using route = await dmb.resolveRdma({ host: o.host, port: o.port }, { timeout: 2000 });
  using pd = route.device.allocPd();
  const b = { ...messages(pd), start: rdmaBuffer(dmb, pd, o.size, 'start'), rdma: rdmaBuffer(dmb, pd, o.size, 'rdma') };
  using _start = b.start.buf, _rdma = b.rdma.buf;
  const recvWr = { local: { mr: b.recvMr }, id: RECV };
  using conn = await route.connect({ pd, maxSendWr: 16, maxRecvWr: 2, cqSize: 32, receives: [recvWr], responderResources: 1, initiatorDepth: 1 });
  const advertise = async (which: RdmaBuffer) => {
    encodeRemoteBuffer({ ...which.mr.remote(), length: BigInt(o.size) }, b.send);
    conn.qp.postSend([{ opcode: 'send', local: { mr: b.sendMr }, id: SEND }]);
    if (!(await until(conn, 'recv'))) throw new Error('the server went away');
    conn.qp.postRecv([recvWr]);
  };
  for (let ping = 0, start = 65; o.count === 0 || ping < o.count; ping++) {
    {
      using _ = b.start.map.begin('write');
      fillPing(b.start.map.view, o.size, ping, start);
    }
    start = start >= 122 ? 65 : start + 1;
    await advertise(b.start);
    await advertise(b.rdma);
    using _ = b.rdma.map.begin('read');
    const sent = b.start.map.view.subarray(0, o.size), got = b.rdma.map.view.subarray(0, o.size);
    if (o.validate && Buffer.compare(sent, got) !== 0) throw new Error('data mismatch!');
    if (o.verbose) console.log(`ping data: ${cString(got)}`);
  }
  conn.disconnect();
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  using dmb = open();
  try {
    await (o.server ? server(dmb, o) : client(dmb, o));
  } catch (e) {
    console.error(`rping: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}

void main();
