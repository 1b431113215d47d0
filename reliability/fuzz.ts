// npm run test:fuzz: seeded hostile calls into every public method and the
// seam, as a program that must end by itself. It makes objects, calls their
// methods and getters with wrong and right arguments in random order, closes
// them in random order, then closes the bridge and checks:
// - every throw (and every rejection) is an Error with a string `code`;
// - every promise settled once its owner closed;
// - no fd is left: the backend's fd table, and /proc/self/fd natively;
// - the process then exits by itself (the parent that spawned it checks).
// A crash (a signal, an abort) shows as the child's death. The report is JSON
// goes to --report (or stdout); a failing seed prints the command that replays it.
//
//   node dist/reliability/fuzz.js --backend emulator --seed 42 --calls 10000
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type DmaBridge } from '../src';
import { Resource } from '../src/resource';
import { RDMA_PS_TCP } from '../seam/rdmacm-uapi';

interface Args {
  backend: 'native' | 'emulator';
  seed: number;
  calls: number;
  /** Where the JSON report goes; stdout's last line if none (the fuzz may adopt fd 1 and close it). */
  report?: string;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const at = argv.indexOf(`--${name}`);
    return at < 0 ? undefined : argv[at + 1];
  };
  const backend = get('backend') ?? 'emulator';
  if (backend !== 'native' && backend !== 'emulator') throw new Error(`--backend must be native or emulator, got ${backend}`);
  return { backend, seed: Number(get('seed') ?? Date.now() % 2 ** 31), calls: Number(get('calls') ?? 10_000), report: get('report') };
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export interface FuzzReport {
  backend: string;
  seed: number;
  calls: number;
  seamCalls: number;
  threw: number;
  /** Throws and rejections that were not an Error with a string code, and the distinct ones. */
  uncodedCount: number;
  uncoded: string[];
  promises: number;
  unsettled: string[];
  fdsLeft: number[];
  procFdsLeft: string[];
  replay: string;
}

/** The rdma_cm addresses the fuzz uses: the VM guest's NIC (rxe1), and loopback with a bad port. */
const FUZZ_HOSTS = ['10.99.0.1', '127.0.0.1'];

const SEAM_SKIP = new Set([
  // The hot path passes straight through withAdvice (no wrapper, no codes): its callers check.
  'ibvPostSend', 'ibvPostRecv', 'ibvPollCq', 'poll',
  // Closing or unmapping what the fuzz does not own would pull fds and memory from under node itself.
  'close', 'munmap', 'unlink', 'dup',
]);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const random = rng(args.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const dir = mkdtempSync(join(tmpdir(), 'dmabridge-fuzz-'));
  // Relative paths (listenUnix('x')) land here, not in the repository.
  process.chdir(dir);
  const dmb: DmaBridge = open({ backend: args.backend });
  // libibverbs and librdmacm open process-wide fds on first use and keep them
  // (librdmacm opens a device's context, with its async event fd, the first
  // time an id binds to it): touch both, and bind where the fuzz's addresses
  // are, before the baseline.
  try {
    const channel = dmb.seam.rdmaCreateEventChannel();
    for (const host of FUZZ_HOSTS) {
      const id = dmb.seam.rdmaCreateId(channel.handle, RDMA_PS_TCP);
      try {
        dmb.seam.rdmaBindAddr(id, { host, port: 0 });
      } catch {
        // An address this machine lacks opens nothing.
      }
      dmb.seam.rdmaDestroyId(id);
    }
    dmb.seam.rdmaDestroyEventChannel(channel.handle);
  } catch {
    // Without librdmacm or a device there is nothing to open.
  }
  const fdsBefore = dmb.seam.openFds();
  const procBefore = procFds();
  /** Library-owned fds that raw seam calls made: the fuzz's, not dmabridge's. */
  const rawOwned = new Set<number>();
  const objects: object[] = [dmb];
  const promises: Array<{ what: string; settled: boolean }> = [];
  const report: FuzzReport = {
    backend: args.backend, seed: args.seed, calls: 0, seamCalls: 0, threw: 0, uncodedCount: 0, uncoded: [], promises: 0, unsettled: [], fdsLeft: [], procFdsLeft: [],
    replay: `npm run --silent build:ts && node dist/reliability/fuzz.js --backend ${args.backend} --seed ${args.seed} --calls ${args.calls}`,
  };

  const judge = (what: string, e: unknown) => {
    report.threw++;
    const code = (e as { code?: unknown } | null)?.code;
    if (!(e instanceof Error) || typeof code !== 'string') {
      report.uncodedCount++;
      const line = `${what}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`;
      if (report.uncoded.length < 30 && !report.uncoded.includes(line)) report.uncoded.push(line);
    }
  };

  /** Values a hostile or careless caller passes, and a few right ones so calls get deep. */
  const value = (depth = 0): unknown => {
    const r = random();
    if (r < 0.25 && objects.length) return pick(objects);
    if (r < 0.35 && depth < 2) return options(depth + 1);
    if (r < 0.4 && depth < 2) return [value(depth + 1), value(depth + 1)];
    return pick(SCALARS)();
  };
  const options = (depth: number): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    const n = Math.floor(random() * 3) + 1;
    for (let i = 0; i < n; i++) o[pick(KEYS)] = random() < 0.5 ? pick(SCALARS)() : value(depth);
    return o;
  };
  const SCALARS: Array<() => unknown> = [
    // No integer between 64 MiB and a machine's memory: as a size it is valid, and the kernel
    // would make that much (a udmabuf on 7.3, a registered mapping, an exported vgem
    // buffer), which tries the machine's memory, not dmabridge. -2^31 and 2^53 still
    // probe the bounds; the seam's hostile scalars keep 2^31 and 2^32.
    () => undefined, () => null, () => NaN, () => Infinity, () => -1, () => 0, () => 1, () => 1.5, () => -(2 ** 31), () => 2 ** 53,
    () => 4096, () => 8192, () => 1000, () => 64, () => 4096n, () => -1n, () => 2n ** 70n, () => 2n ** 64n - 1n,
    () => '', () => 'x', () => 'rw', () => 'read', () => 'write', () => 'shrink', () => 'rxe0', () => 'vgem', () => '/dev/dri/card0', () => 'local-write',
    () => true, () => false, () => ({}), () => [], () => Symbol('fuzz'), () => () => {},
    () => new Uint8Array(0), () => new Uint8Array(64), () => new Uint8Array(new SharedArrayBuffer(64)), () => new ArrayBuffer(16), () => AbortSignal.abort(),
    () => new AbortController().signal, () => ({ timeout: pick([-1, 0, 1, 2 ** 31, NaN, 'soon', 5]) }), () => ({ signal: {} }),
    () => ({ host: FUZZ_HOSTS[0], port: 0 }), () => ({ host: FUZZ_HOSTS[1], port: 65536 }),
    () => [{ opcode: 'write', id: pick([1n, -1n, 2n ** 70n, 1]), local: { mr: pick(objects) }, remote: { addr: 0n, rkey: 1, length: 64n } }],
    () => [{ id: pick([0n, -1n, 7]) }],
  ];
  const KEYS = ['timeout', 'signal', 'offset', 'length', 'size', 'access', 'name', 'heap', 'adopt', 'backlog', 'fallback', 'iova', 'pd', 'privateData', 'driver', 'width', 'height', 'bpp', 'maxBytes', 'fds', 'device', 'retryCount', 'cqSize', 'receives', 'port', 'gidIndex'];

  const call = (target: object, name: string | symbol, argv: unknown[]) => {
    report.calls++;
    const what = `${target.constructor?.name ?? 'object'}.${String(name)}`;
    let result: unknown;
    try {
      const member = (target as Record<string | symbol, unknown>)[name];
      result = typeof member === 'function' ? (member as (...a: unknown[]) => unknown).apply(target, argv) : member;
    } catch (e) {
      judge(what, e);
      return;
    }
    adopt(what, result);
  };
  const adopt = (what: string, result: unknown) => {
    if (result instanceof Promise) {
      const entry = { what, settled: false };
      promises.push(entry);
      result.then((r) => {
        entry.settled = true;
        adopt(what, r);
      }, (e) => {
        entry.settled = true;
        judge(`${what} (rejected)`, e);
      });
    } else if (result instanceof Resource) {
      objects.push(result);
    } else if (Array.isArray(result)) {
      for (const r of result) if (r instanceof Resource) objects.push(r);
    }
  };

  for (let i = 0; i < args.calls; i++) {
    const r = random();
    if (r < 0.08) {
      // The seam, through the public DmaBridge.seam, with hostile arguments.
      const names = seamMethods(dmb);
      report.seamCalls++;
      const before = dmb.seam.openFds();
      call(dmb.seam, pick(names), [hostileScalar(random), hostileScalar(random), value(), value()]);
      // What a raw call made is the fuzz's own to close, not a leak of dmabridge's.
      // An fd that libibverbs or librdmacm owns refuses close (EBUSY): its
      // object's handle went with the raw call, so it is counted apart.
      for (const fd of dmb.seam.openFds()) {
        if (before.includes(fd)) continue;
        try {
          dmb.seam.close(fd);
        } catch (e) {
          if ((e as { code?: string }).code !== 'EBUSY') throw e;
          rawOwned.add(fd);
        }
      }
      continue;
    }
    const target = pick(objects);
    if (r < 0.12 && target !== dmb) {
      call(target, 'close', []);
      continue;
    }
    const names = methodsOf(target);
    if (names.length === 0) continue;
    const argc = Math.floor(random() * 4);
    call(target, pick(names), Array.from({ length: argc }, () => value()));
    // Let timers, watches and the emulator's progress run now and then.
    if (i % 500 === 499) await new Promise((done) => setImmediate(done));
  }

  // Close in a random order, then everything with the bridge.
  for (const o of [...objects].sort(() => random() - 0.5)) if (o !== dmb && random() < 0.5) call(o, 'close', []);
  call(dmb, 'close', []);
  await new Promise((done) => setTimeout(done, 50));
  report.promises = promises.length;
  report.unsettled = promises.filter((p) => !p.settled).map((p) => p.what).slice(0, 20);
  report.fdsLeft = dmb.seam.openFds().filter((fd) => !fdsBefore.includes(fd) && !rawOwned.has(fd));
  if (args.backend === 'native') report.procFdsLeft = procFds().filter((f) => !procBefore.includes(f) && !rawOwned.has(Number(f))).map(fdTarget);
  process.chdir(tmpdir());
  rmSync(dir, { recursive: true, force: true });
  // The process ends by itself: nothing may keep the loop alive.
  const line = `${JSON.stringify(report)}\n`;
  if (args.report) writeFileSync(args.report, line);
  else process.stdout.write(line);
}

/**
 * Public members the fuzz does not call at random: `constructor` makes a new
 * object rather than using this one, and `close` has its own share of the
 * calls (and the ordered closes at the end). Everything else a prototype
 * lists is public API (src/ keeps its internals #private).
 */
const NOT_CALLED = new Set(['constructor', 'close']);

/** The public methods and getters of an object, from its class up to Resource. */
const methodCache = new Map<object, Array<string | symbol>>();
function methodsOf(target: object): Array<string | symbol> {
  const proto = Object.getPrototypeOf(target) as object;
  let names = methodCache.get(proto);
  if (!names) {
    const found = new Set<string | symbol>();
    for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
      for (const k of Object.getOwnPropertyNames(p)) if (!NOT_CALLED.has(k)) found.add(k);
    }
    found.add(Symbol.dispose);
    names = [...found];
    methodCache.set(proto, names);
  }
  return names;
}

let seamNames: string[] | undefined;
function seamMethods(dmb: DmaBridge): string[] {
  return (seamNames ??= Object.keys(dmb.seam).filter((k) => typeof (dmb.seam as unknown as Record<string, unknown>)[k] === 'function' && !SEAM_SKIP.has(k)).sort());
}

/** Integers that are never a live fd or handle of this process, and values of the wrong type. */
function hostileScalar(random: () => number): unknown {
  const pool = [-1, -(2 ** 31), 2 ** 31, 2 ** 32, 1.5, NaN, Infinity, '3', null, undefined, {}, 1n, -1n, 2n ** 64n, () => {}, Symbol('s'), 1e6];
  return pool[Math.floor(random() * pool.length)];
}

/** `fd -> what it names`, for a report that says what was left. */
function fdTarget(fd: string): string {
  try {
    return `${fd} -> ${readlinkSync(`/proc/self/fd/${fd}`)}`;
  } catch {
    return fd;
  }
}

/** The fds open now: the listing's own directory fd, gone once it returns, is left out. */
function procFds(): string[] {
  try {
    return readdirSync('/proc/self/fd').filter((fd) => {
      try {
        readlinkSync(`/proc/self/fd/${fd}`);
        return true;
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`fuzz: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
