// Loads the C++ addon (native/) and presents it as the 'native' Backend. The
// addon's exports are the Backend's methods one for one; this file only finds
// the binary and says why when it cannot.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Backend } from '../seam/backend';
import type { VerbsCalls } from '../seam/backend-verbs';

export interface NativeLoad {
  backend?: Backend;
  /** Why the addon is unavailable, in a sentence that says what to do. */
  error?: string;
}

type Addon = Omit<Backend & VerbsCalls, 'name'>;

const METHODS = {
  open: true, close: true, dup: true, readdir: true, lseek: true, readFdinfo: true, readlinkFd: true,
  openFds: true, memfdCreate: true, ftruncate: true, addSeals: true, getSeals: true, mmap: true,
  munmap: true, dmaBufSync: true, dmaBufSetName: true, dmaBufExportSyncFile: true,
  dmaBufImportSyncFile: true, udmabufCreate: true, udmabufCreateList: true, dmaHeapAlloc: true,
  drmVersion: true, drmCreateDumb: true, drmDestroyDumb: true, drmGemClose: true,
  drmPrimeHandleToFd: true, drmPrimeFdToHandle: true, vgemFenceAttach: true, vgemFenceSignal: true,
  syncFileMerge: true, syncFileInfo: true, poll: true, watch: true,
  cuDeviceGetCount: true, cuDeviceGetName: true, cuDeviceGetAttribute: true, cuMemGetInfo: true,
  cuMemAlloc: true, cuMemExportDmaBuf: true, cuMemFree: true,
  socketpair: true, unixListen: true, unixConnect: true, unixAccept: true, sendFds: true, recvFds: true,
  unlink: true,
  ibvGetDeviceList: true, ibvOpenDevice: true, ibvCloseDevice: true, ibvQueryDevice: true,
  ibvQueryPort: true, ibvQueryGid: true, ibvGetAsyncEvent: true, ibvAsyncFd: true, ibvAllocPd: true,
  ibvDeallocPd: true, ibvRegMr: true, ibvRegDmabufMr: true, ibvDeregMr: true,
  ibvCreateCompChannel: true, ibvDestroyCompChannel: true, ibvCreateCq: true, ibvDestroyCq: true,
  ibvReqNotifyCq: true, ibvGetCqEvent: true, ibvAckCqEvents: true, ibvPollCq: true, ibvCreateQp: true,
  ibvModifyQp: true, ibvDestroyQp: true, ibvPostSend: true, ibvPostRecv: true, getMemlockLimit: true,
  setMemlockLimit: true,
  rdmaCreateEventChannel: true, rdmaDestroyEventChannel: true, rdmaCreateId: true, rdmaDestroyId: true,
  rdmaBindAddr: true, rdmaListen: true, rdmaResolveAddr: true, rdmaResolveRoute: true, rdmaCreateQp: true,
  rdmaConnect: true, rdmaAccept: true, rdmaReject: true, rdmaDisconnect: true, rdmaGetCmEvent: true,
  rdmaQueryId: true,
} satisfies Record<keyof Addon, true>;

const BUILD_HINT = 'run `npm run build:native` in the dmabridge package (needs g++, make and python3)';

let loaded: NativeLoad | undefined;

export function loadNative(): NativeLoad {
  loaded ??= load();
  return loaded;
}

function load(): NativeLoad {
  if (process.platform !== 'linux') {
    return { error: `the native backend needs Linux and this is ${process.platform}; the emulator backend works here` };
  }
  const explicit = process.env.DMABRIDGE_NATIVE_PATH;
  if (explicit) {
    return dlopen(explicit, `DMABRIDGE_NATIVE_PATH=${explicit}`, 'point DMABRIDGE_NATIVE_PATH at a built dmabridge.node, or unset it');
  }
  const root = packageRoot();
  const prebuild = findPrebuild(root);
  const fromPrebuild = prebuild ? dlopen(prebuild, prebuild, BUILD_HINT) : undefined;
  if (fromPrebuild?.backend) return fromPrebuild;

  try {
    const bindings = createRequire(join(root, 'package.json'))('bindings') as (opts: object) => unknown;
    return wrap(bindings({ bindings: 'dmabridge', module_root: root }), join(root, 'build'));
  } catch (e) {
    const message = (e as Error).message;
    if (/Could not locate the bindings file/.test(message)) {
      return { error: fromPrebuild?.error ?? `the native addon is not built: ${BUILD_HINT}` };
    }
    return { error: `the native addon in ${join(root, 'build')} failed to load (${firstLine(message)}): ${BUILD_HINT}` };
  }
}

function dlopen(path: string, what: string, remedy: string): NativeLoad {
  const module = { exports: {} };
  try {
    process.dlopen(module, path);
  } catch (e) {
    return { error: `the native addon ${what} failed to load (${firstLine((e as Error).message)}): ${remedy}` };
  }
  return wrap(module.exports, what);
}

function wrap(addon: unknown, what: string): NativeLoad {
  const exports = addon as Record<string, unknown>;
  const names = Object.keys(METHODS);
  const missing = names.filter((name) => typeof exports[name] !== 'function');
  if (missing.length > 0) {
    return { error: `the native addon ${what} is out of date (it lacks ${missing.join(', ')}): ${BUILD_HINT}` };
  }
  const methods = Object.fromEntries(names.map((name) => [name, exports[name]])) as unknown as Addon;
  return { backend: Object.freeze({ name: 'native', ...methods }) };
}

// prebuildify's layout: prebuilds/<platform>-<arch>/<name>.node, where the name
// may be tagged with the libc it was built against (node.napi.glibc.node).
function findPrebuild(root: string): string | undefined {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return undefined;
  const libc = isGlibc() ? 'glibc' : 'musl';
  const other = libc === 'glibc' ? 'musl' : 'glibc';
  const files = readdirSync(dir).filter((f) => f.endsWith('.node') && !f.split('.').includes(other));
  files.sort((a, b) => Number(b.split('.').includes(libc)) - Number(a.split('.').includes(libc)));
  return files.length > 0 ? join(dir, files[0]) : undefined;
}

function isGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return Boolean(report?.header?.glibcVersionRuntime);
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
