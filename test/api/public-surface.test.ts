// What a caller holding a dmabridge object can reach at runtime is its
// documented API and nothing more: every name its prototypes and the object
// itself list (what reliability/fuzz.ts calls with garbage) is in PUBLIC, the
// list of each class's public members. PUBLIC is checked against the type
// declarations users see (src/index.ts's classes, less private, protected and
// @internal members), so a member added later is either declared public API
// here or kept #private in src/: never callable by accident.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it as vitestIt } from 'vitest';
import { createEmulator, createNetwork } from '../../emulator';
import { withAdvice } from '../../src/advice';
import { DmaBridge } from '../../src/dmabridge';
import { type BackendCase, DEVICES, describeEachBackend, itWith, openOn } from '../support/backends';
import { selfAddress } from '../support/rdmacm-addon';
import { itNeeds } from '../support/skip';

/** What Resource gives every class below it. */
const RESOURCE = ['closed', 'close'];
const FD = [...RESOURCE, 'seam', 'fd'];
const DMA_BUF = [...FD, 'size', 'memfdRanges', 'info', 'exporter', 'name', 'setName', 'map', 'exportSyncFile', 'importSyncFile', 'idle', 'waitIdle'];
const MAPPING = [...RESOURCE, 'access', 'view', 'unmap', 'discard'];
const CM_ID = [...RESOURCE, 'device'];

/** Each public class's public members, inherited ones included (as the .d.ts has them). */
const PUBLIC: Record<string, readonly string[]> = {
  DmaBridge: [...RESOURCE, 'seam', 'reason', 'backend', 'createMemfd', 'createUdmabuf', 'udmabufFromMemfd', 'udmabufFromRanges', 'heaps', 'allocHeap',
    'drmNodes', 'openDrm', 'importDmaBuf', 'importSyncFile', 'cudaDevices', 'allocCuda', 'listenUnix', 'connectUnix', 'socketPair', 'importSocket',
    'rdmaDevices', 'openRdma', 'listenRdma', 'resolveRdma', 'connectRdma'],
  Memfd: [...FD, 'size', 'seals', 'seal', 'map'],
  DmaBuf: DMA_BUF,
  CudaDmaBuf: [...DMA_BUF, 'device', 'dptr'],
  Mapping: MAPPING,
  DmaBufMapping: [...MAPPING, 'begin', 'end', 'accessing'],
  SyncFile: [...FD, 'info', 'signaled', 'merge', 'wait'],
  DrmDevice: [...FD, 'path', 'version', 'driver', 'createDumb', 'exportHandle', 'importDmaBuf', 'closeHandle', 'attachFence'],
  DumbBuffer: [...RESOURCE, 'device', 'handle', 'pitch', 'size', 'export', 'attachFence'],
  VgemFence: ['id', 'signal'],
  UnixChannel: [...FD, 'peer', 'send', 'receive', 'sendDmaBuf', 'receiveDmaBuf'],
  UnixListener: [...FD, 'path', 'accept'],
  RdmaDevice: [...RESOURCE, 'seam', 'ctx', 'name', 'attr', 'port', 'gid', 'canRegisterDmaBuf', 'onDemandPaging', 'allocPd', 'createCq', 'on', 'off'],
  ProtectionDomain: [...RESOURCE, 'device', 'handle', 'register', 'registerDmaBuf', 'createQp'],
  MemoryRegion: [...RESOURCE, 'pd', 'via', 'addr', 'length', 'lkey', 'rkey', 'access', 'remote', 'revokeRemote', 'prefetch'],
  CompletionQueue: [...RESOURCE, 'device', 'handle', 'poll', 'pollCount', 'next'],
  QueuePair: [...RESOURCE, 'pd', 'handle', 'qpNum', 'cap', 'psn', 'state', 'endpoint', 'connect', 'postSend', 'postRecv'],
  RdmaListener: [...RESOURCE, 'address', 'connections', 'pinnedBytes', 'next', 'accept'],
  RdmaRoute: [...CM_ID, 'local', 'remote', 'connect'],
  ConnectionRequest: [...CM_ID, 'privateData', 'local', 'remote', 'accept', 'reject'],
  RdmaConnection: [...RESOURCE, 'pd', 'cq', 'qp', 'privateData', 'local', 'remote', 'device', 'state', 'disconnected', 'disconnect'],
};

/** The symbol-keyed members a class may have: using, await using's kin and for await. */
const SYMBOLS = new Set<symbol>([Symbol.dispose, Symbol.asyncIterator]);

/** The public members of each class src/index.ts exports, as the type checker sees them. */
function declaredPublic(): Record<string, string[]> {
  const index = join(__dirname, '../../src/index.ts');
  const program = ts.createProgram([index], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'], types: ['node'], strict: true, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(index)!)!);
  const out: Record<string, string[]> = {};
  for (const exported of exports) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (!(symbol.flags & ts.SymbolFlags.Class)) continue;
    out[symbol.name] = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol)).filter((p) => {
      const decl = p.valueDeclaration ?? p.declarations?.[0];
      // '__#…' are #private names, '__@…' symbol-keyed members.
      if (!decl || p.escapedName.toString().startsWith('__')) return false;
      if (ts.getCombinedModifierFlags(decl) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return false;
      return !ts.getJSDocTags(decl).some((t) => t.tagName.text === 'internal');
    }).map((p) => p.name).sort();
  }
  return out;
}

describe('the public surface', () => {
  vitestIt('PUBLIC is what the type declarations make public, class by class', () => {
    const sorted = Object.fromEntries(Object.entries(PUBLIC).map(([k, v]) => [k, [...new Set(v)].sort()]));
    expect(sorted).toEqual(declaredPublic());
  }, 60_000);
});

/** The names `o` answers to at runtime: its own, and its prototypes' up to Object.prototype. */
function reachable(o: object): { names: string[]; symbols: symbol[] } {
  const names = new Set<string>(Object.getOwnPropertyNames(o));
  const symbols = new Set<symbol>(Object.getOwnPropertySymbols(o));
  for (let p = Object.getPrototypeOf(o) as object | null; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const k of Object.getOwnPropertyNames(p)) names.add(k);
    for (const s of Object.getOwnPropertySymbols(p)) symbols.add(s);
  }
  names.delete('constructor');
  return { names: [...names], symbols: [...symbols] };
}

describeEachBackend('nothing but the public API is reachable', (b) => {
  const walked = new Set<string>();

  /** Checks each object: no name outside its class's PUBLIC, no stray symbol, no static member. */
  function expectPublicOnly(...objects: object[]): void {
    for (const o of objects) {
      const cls = o.constructor as { name: string };
      expect(PUBLIC, `${cls.name} is a public class`).toHaveProperty([cls.name]);
      const { names, symbols } = reachable(o);
      expect(names.filter((n) => !PUBLIC[cls.name]!.includes(n)), `${cls.name}'s members outside the public API`).toEqual([]);
      expect(symbols.filter((s) => !SYMBOLS.has(s)).map(String), `${cls.name}'s symbol-keyed members`).toEqual([]);
      for (let c = cls; c !== Function.prototype && c.name; c = Object.getPrototypeOf(c) as { name: string }) {
        expect(Object.getOwnPropertyNames(c).filter((n) => !['length', 'name', 'prototype'].includes(n)), `${c.name}'s static members`).toEqual([]);
      }
      walked.add(cls.name);
    }
  }

  vitestIt('the bridge, memfds, their mappings and Unix sockets', async () => {
    using dmb = openOn(b);
    using memfd = dmb.createMemfd(4096);
    using mapping = memfd.map();
    const [x, y] = dmb.socketPair();
    using a = x;
    using _b = y;
    const dir = mkdtempSync(join(tmpdir(), 'dmabridge-surface-'));
    try {
      using listener = dmb.listenUnix(join(dir, 'sock'));
      using c = dmb.connectUnix(join(dir, 'sock'));
      using accepted = await listener.accept({ timeout: 5000 });
      expectPublicOnly(dmb, memfd, mapping, a, listener, c, accepted);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  itWith(b, DEVICES.udmabuf)('udmabufs, their mappings and sync_files', () => {
    using dmb = openOn(b);
    using buf = dmb.createUdmabuf(4096);
    using map = buf.map();
    using sync = buf.exportSyncFile('read');
    expectPublicOnly(buf, map, sync);
  });

  itWith(b, DEVICES.vgem)('DRM devices, dumb buffers and vgem fences', () => {
    using dmb = openOn(b);
    using dev = dmb.openDrm({ driver: 'vgem' });
    using dumb = dev.createDumb({ width: 16, height: 16, bpp: 32 });
    const fence = dumb.attachFence('write');
    expectPublicOnly(dev, dumb, fence);
    fence.signal();
  });

  itWith(b, DEVICES.rxe)('an RDMA device, PD, CQ, QP and MR', () => {
    using dmb = openOn(b);
    using dev = dmb.openRdma('rxe0');
    using pd = dev.allocPd();
    using cq = dev.createCq(16);
    using qp = pd.createQp(cq);
    using mr = pd.register(new SharedArrayBuffer(4096));
    expectPublicOnly(dev, pd, cq, qp, mr);
  });

  itWith(b, DEVICES.nic)('an rdma_cm listener, route, request and both ends of a connection', async () => {
    const host = b.name === 'native' ? selfAddress()?.host ?? '' : '10.99.0.1';
    const backend = b.name === 'native' ? b.create() : createEmulator({ network: createNetwork(), host: { name: 'a', address: host } });
    using dmb = new DmaBridge(withAdvice(backend), `surface test on ${b.name}`);
    using listener = dmb.listenRdma({ host, port: 0 });
    const served = (async () => {
      using request = await listener.next({ timeout: 10_000 });
      expectPublicOnly(request);
      return request.accept({ timeout: 10_000 });
    })();
    using route = await dmb.resolveRdma({ host, port: listener.address.port }, { timeout: 10_000 });
    expectPublicOnly(listener, route);
    using client = await route.connect({ timeout: 10_000 });
    using server = await served;
    expectPublicOnly(client, server);
  });

  const gpu = existsSync('/dev/nvidiactl');
  itNeeds(b.name === 'emulator' || gpu ? null : 'no NVIDIA GPU, /dev/nvidiactl absent', { absentFromVm: true })('a CUDA dma-buf', () => {
    using dmb = openOn(b);
    using buf = dmb.allocCuda(4096);
    expectPublicOnly(buf);
  });

  // Last: the emulator has every device, so there every public class was walked.
  if (b.name === 'emulator') {
    vitestIt('every public class was walked', () => {
      expect([...walked].sort()).toEqual(Object.keys(PUBLIC).sort());
    });
  }
});
