// The C programs dmabridge is measured against: perftest's ib_write_bw where
// it is on PATH, and the loops in src/bench/peers/, compiled on first use with
// the machine's C compiler against its libibverbs.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

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

/** Runs src/bench/peers/NAME.c (compiled first unless its binary is newer) and parses the JSON it prints. */
export function cPeer(name: string, args: Array<string | number>): PeerRun<Record<string, number[]>> {
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
  return { out: JSON.parse(execFileSync(binary, args.map(String), { encoding: 'utf8' })) };
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
  const args = ['-d', o.device, '-s', o.size, '-n', o.count, '-F', '-p', nextPort++,
    ...(o.gid === undefined ? [] : ['-x', o.gid]),
    ...(o.postList && o.postList > 1 ? ['-l', o.postList] : [])].map(String);
  const server = spawn('ib_write_bw', args, { stdio: 'ignore' });
  try {
    for (let tries = 0; ; tries++) {
      const r = spawnSync('ib_write_bw', [...args, '127.0.0.1'], { encoding: 'utf8' });
      if (r.status === 0) return resultRow(r.stdout, o.size);
      // The server may not listen yet.
      if (tries >= 20) throw new Error(`ib_write_bw ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
      spawnSync('sleep', ['0.5']);
    }
  } finally {
    server.kill();
  }
}

/** The "#bytes #iterations BW peak BW average MsgRate" row of perftest's report. */
export function resultRow(out: string, size: number): PerftestResult {
  const row = out.split('\n').map((l) => l.trim().split(/\s+/).map(Number)).find((c) => c.length === 5 && c[0] === size);
  if (!row) throw new Error(`no result row in ib_write_bw's output:\n${out}`);
  return { mibps: row[3]!, mpps: row[4]! };
}
