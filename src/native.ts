// Loads the C++ addon (native/) and presents it as the 'native' Backend. The
// addon's exports are the Backend's methods one for one; this file only finds
// the binary and says why when it cannot.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Backend } from '../seam/backend';
import type { VerbsCalls } from '../seam/backend-verbs';

export interface NativeLoad {
  backend?: Backend;
  /** The file the addon came from, and why that one: a prebuild, a local build, or DMABRIDGE_NATIVE_PATH. */
  source?: NativeSource;
  /** Why the addon is unavailable, in a sentence that says what to do. */
  error?: string;
}

export interface NativeSource {
  kind: 'prebuild' | 'local build' | 'DMABRIDGE_NATIVE_PATH';
  file: string;
}

type Addon = Omit<Backend & VerbsCalls, 'name'>;

const METHODS = {
  open: true, close: true, dup: true, readdir: true, lseek: true, readFdinfo: true, readlinkFd: true,
  openFds: true, memfdCreate: true, ftruncate: true, addSeals: true, getSeals: true, mmap: true,
  munmap: true, madvise: true, dmaBufSync: true, dmaBufSetName: true, dmaBufExportSyncFile: true,
  dmaBufImportSyncFile: true, udmabufCreate: true, udmabufCreateList: true, dmaHeapAlloc: true,
  drmVersion: true, drmCreateDumb: true, drmDestroyDumb: true, drmGemClose: true,
  drmPrimeHandleToFd: true, drmPrimeFdToHandle: true, vgemFenceAttach: true, vgemFenceSignal: true,
  syncFileMerge: true, syncFileInfo: true, noop: true, poll: true, watch: true,
  cuDeviceGetCount: true, cuDeviceGetName: true, cuDeviceGetAttribute: true, cuMemGetInfo: true,
  cuMemAlloc: true, cuMemExportDmaBuf: true, cuMemFree: true,
  socketpair: true, unixListen: true, unixConnect: true, unixAccept: true, sendFds: true, recvFds: true,
  peerCred: true, lstat: true, credentials: true, unlink: true,
  ibvGetDeviceList: true, ibvOpenDevice: true, ibvCloseDevice: true, ibvQueryDevice: true,
  ibvQueryPort: true, ibvQueryGid: true, ibvGetAsyncEvent: true, ibvAsyncFd: true, ibvAllocPd: true,
  ibvDeallocPd: true, ibvRegMr: true, ibvRegDmabufMr: true, ibvDeregMr: true, ibvAdviseMr: true,
  ibvCreateCompChannel: true, ibvDestroyCompChannel: true, ibvCreateCq: true, ibvDestroyCq: true,
  ibvReqNotifyCq: true, ibvGetCqEvent: true, ibvAckCqEvents: true, ibvPollCq: true, ibvCreateQp: true,
  ibvModifyQp: true, ibvDestroyQp: true, ibvPostSend: true, ibvPostRecv: true, getMemlockLimit: true,
  setMemlockLimit: true,
  rdmaCreateEventChannel: true, rdmaDestroyEventChannel: true, rdmaCreateId: true, rdmaDestroyId: true,
  rdmaBindAddr: true, rdmaListen: true, rdmaResolveAddr: true, rdmaResolveRoute: true, rdmaCreateQp: true,
  rdmaConnect: true, rdmaAccept: true, rdmaReject: true, rdmaDisconnect: true, rdmaGetCmEvent: true,
  rdmaQueryId: true,
} satisfies Record<keyof Addon, true>;

const BUILD_HINT = 'build it from source with `npm rebuild dmabridge --build-from-source` (in dmabridge\'s own clone: `npm run build:native`), which needs g++, make and python3';

let loaded: NativeLoad | undefined;

export function loadNative(): NativeLoad {
  loaded ??= load();
  return loaded;
}

interface Candidate {
  kind: 'prebuild' | 'local build';
  file: string;
}

function load(): NativeLoad {
  if (process.platform !== 'linux') {
    return { error: `the native backend needs Linux and this is ${process.platform}; the emulator backend works here` };
  }
  const explicit = process.env.DMABRIDGE_NATIVE_PATH;
  if (explicit) {
    return dlopen({ kind: 'DMABRIDGE_NATIVE_PATH', file: explicit }, 'point DMABRIDGE_NATIVE_PATH at a built dmabridge.node, or unset it');
  }
  // The order (prebuild, then local build) lives in one place, shared with the install script.
  const root = packageRoot();
  const { nativeCandidates } = createRequire(join(root, 'package.json'))('./scripts/native-files.js') as {
    nativeCandidates(root: string): Candidate[];
  };
  const failures: string[] = [];
  for (const candidate of nativeCandidates(root)) {
    if (!existsSync(candidate.file)) continue;
    const result = dlopen(candidate, BUILD_HINT);
    if (result.backend) return result;
    failures.push(result.error!);
  }
  return { error: failures.length > 0 ? failures.join('; ') : `no prebuild for ${process.platform}-${process.arch} and no local build: ${BUILD_HINT}` };
}

function dlopen(source: NativeSource, remedy: string): NativeLoad {
  const module = { exports: {} };
  try {
    process.dlopen(module, source.file);
  } catch (e) {
    return { error: `the native addon ${source.file} (${source.kind}) failed to load (${firstLine((e as Error).message)}): ${remedy}` };
  }
  return wrap(module.exports, source);
}

function wrap(addon: unknown, source: NativeSource): NativeLoad {
  const exports = addon as Record<string, unknown>;
  const names = Object.keys(METHODS);
  const missing = names.filter((name) => typeof exports[name] !== 'function');
  if (missing.length > 0) {
    return { error: `the native addon ${source.file} (${source.kind}) is out of date (it lacks ${missing.join(', ')}): ${BUILD_HINT}` };
  }
  const methods = Object.fromEntries(names.map((name) => [name, exports[name]])) as unknown as Addon;
  return { backend: Object.freeze({ name: 'native', ...methods }), source };
}

// The package root holds package.json and build/: two levels up from
// dist/src/native.js, one from src/native.ts.
function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return __dirname;
    dir = parent;
  }
  return dir;
}

function firstLine(message: string): string {
  return message.split('\n')[0];
}
