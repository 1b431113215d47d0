// The C programs dmabridge is measured against: perftest's ib_write_bw,
// ib_send_lat and ib_write_lat where they are on PATH, and the loops in
// src/bench/peers/, compiled on first use with the machine's C compiler
// against its libibverbs.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** What a peer printed, or why it could not run here, with what to install. */
export type PeerRun<T> = { out: T } | { absent: string };

const SOURCES = path.join(__dirname, '../../../src/bench/peers');

/** Where compiled peers are kept: DMABRIDGE_BENCH_PEERS, else the user's cache. */
export function peerCache(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return process.env.DMABRIDGE_BENCH_PEERS || path.join(base, 'dmabridge', 'bench-peers');
}

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(path.join(dir, program)));
}

/** src/bench/peers/NAME.c's binary, compiled first unless it is newer than its source; or why not. */
function peerBinary(name: string): { binary: string } | { absent: string } {
  const source = path.join(SOURCES, `${name}.c`);
  if (!existsSync(source)) return { absent: `${source} is missing from this installation` };
  const cc = ['cc', 'gcc', 'clang'].find(onPath);
  if (!cc) return { absent: 'no C compiler on PATH (apt install gcc)' };
  const dir = peerCache();
  const binary = path.join(dir, name);
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync(cc, ['-O2', '-Wall', '-o', binary, source, '-libverbs'], { encoding: 'utf8' });
    if (r.status !== 0) {
      const first = (r.stderr || r.error?.message || '').split('\n').find((l) => /error/.test(l)) ?? r.stderr;
      return { absent: `cannot build ${name}.c: ${first.trim()} (apt install libibverbs-dev)` };
    }
  }
  return { binary };
}

/** Runs src/bench/peers/NAME.c and parses the JSON it prints. */
export function cPeer(name: string, args: Array<string | number>): PeerRun<Record<string, number[]>> {
  const built = peerBinary(name);
  if ('absent' in built) return built;
  return { out: JSON.parse(execFileSync(built.binary, args.map(String), { encoding: 'utf8' })) };
}

/** A peer that takes one line at a time and answers each with a number. */
export interface PeerSession {
  ask(line: string): Promise<number>;
  close(): Promise<void>;
}

/** Starts src/bench/peers/NAME.c with `fd` as its fd 3, for steps the bench interleaves with its own; or why not. */
export function cPeerSession(name: string, args: Array<string | number>, fd: number): PeerSession | { absent: string } {
  const built = peerBinary(name);
  if ('absent' in built) return built;
  const child = spawn(built.binary, args.map(String), { stdio: ['pipe', 'pipe', 'inherit', fd] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = once(child, 'exit');
  // A spawn that fails emits 'error'; ask() then finds the output ended.
  exited.catch(() => {});
  return {
    async ask(line) {
      child.stdin!.write(`${line}\n`);
      const answer = await lines.next();
      if (answer.done) throw new Error(`the ${name} peer ended (${String((await exited)[0])}) before it answered '${line}'`);
      return Number(answer.value);
    },
    async close() {
      child.stdin!.end();
      const [code] = await exited;
      if (code !== 0) throw new Error(`the ${name} peer exited with ${String(code)}`);
    },
  };
}

export interface PerftestResult {
  mibps: number;
  mpps: number;
}

export interface IbWriteBwOptions {
  device: string;
  size: number;
  count: number;
  /** GID index (-x); perftest's default where undefined. */
  gid?: number;
  /** Requests per ibv_post_send (-l). */
  postList?: number;
}

let nextPort = 18515;

/** ib_write_bw's server and client on one device over loopback, as in perftest's own loopback runs; or why not. */
export function ibWriteBw(): { run: (o: IbWriteBwOptions) => PerftestResult } | { absent: string } {
  if (!onPath('ib_write_bw')) return { absent: 'ib_write_bw not on PATH (apt install perftest)' };
  return { run: runIbWriteBw };
}

function runIbWriteBw(o: IbWriteBwOptions): PerftestResult {
  return resultRow(runPair('ib_write_bw', ['-d', o.device, '-s', o.size, '-n', o.count, '-F', '-p', nextPort++,
    ...(o.gid === undefined ? [] : ['-x', o.gid]),
    ...(o.postList && o.postList > 1 ? ['-l', o.postList] : [])].map(String)), o.size);
}

/** The "#bytes #iterations BW peak BW average MsgRate" row of perftest's report. */
export function resultRow(out: string, size: number): PerftestResult {
  const row = out.split('\n').map((l) => l.trim().split(/\s+/).map(Number)).find((c) => c.length === 5 && c[0] === size);
  if (!row) throw new Error(`no result row in ib_write_bw's output:\n${out}`);
  return { mibps: row[3]!, mpps: row[4]! };
}

export interface PerftestLatency {
  /** perftest's t_typical (its median) and 99% percentile, one-way, in ns. */
  median: number;
  p99: number;
}

export interface LatencyOptions {
  device: string;
  size: number;
  count: number;
  gid?: number;
}

/** ib_send_lat or ib_write_lat, server and client on one device over loopback; or why not. */
export function perftestLatency(program: 'ib_send_lat' | 'ib_write_lat'): { run: (o: LatencyOptions) => PerftestLatency } | { absent: string } {
  if (!onPath(program)) return { absent: `${program} not on PATH (apt install perftest)` };
  return {
    run: (o) => latencyRow(program, runPair(program, ['-d', o.device, '-s', o.size, '-n', o.count, '-F', '-p', nextPort++,
      ...(o.gid === undefined ? [] : ['-x', o.gid])].map(String)), o.size),
  };
}

/** perftest's server, then its client on 127.0.0.1 until the server listens; the client's output. */
function runPair(program: string, args: string[]): string {
  const server = spawn(program, args, { stdio: 'ignore' });
  try {
    for (let tries = 0; ; tries++) {
      const r = spawnSync(program, [...args, '127.0.0.1'], { encoding: 'utf8' });
      if (r.status === 0) return r.stdout;
      // The server may not listen yet.
      if (tries >= 20) throw new Error(`${program} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
      spawnSync('sleep', ['0.5']);
    }
  } finally {
    server.kill();
  }
}

/** The "#bytes #iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%" row of a latency report, in µs. */
export function latencyRow(program: string, out: string, size: number): PerftestLatency {
  const row = out.split('\n').map((l) => l.trim().split(/\s+/).map(Number)).find((c) => c.length === 9 && c[0] === size);
  if (!row) throw new Error(`no result row in ${program}'s output:\n${out}`);
  return { median: row[4]! * 1e3, p99: row[7]! * 1e3 };
}
