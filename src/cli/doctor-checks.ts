// What `dmabridge doctor` looks at, one function per item. Each reads this
// machine directly (the file system, /proc, the native addon), never the
// emulator: the point is what the native backend would find here.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { Backend } from '../../seam/backend';
import { loadNative } from '../native';
import { open } from '../open';
import { cudaDevices } from '../cuda';
import { list } from './machine';

export interface Check {
  id: string;
  ok: boolean;
  /** What was found, in one line. */
  found: string;
  /** Each thing wrong with the exact fix. */
  problems: Array<{ what: string; fix: string }>;
}

function check(id: string, found: string, problems: Check['problems'] = []): Check {
  return { id, ok: problems.length === 0, found, problems };
}

export function nativeCheck(): Check {
  const native = loadNative();
  if (!native.backend) return check('native', 'the native addon did not load', [{ what: native.error!, fix: 'npm rebuild dmabridge --build-from-source' }]);
  using dmb = open({ backend: 'auto' });
  const addon = `addon: ${native.source!.kind} ${native.source!.file}`;
  if (dmb.backend !== 'native') {
    return check('native', `${addon}; auto picks the emulator: ${dmb.reason}`, [{ what: `auto picks the emulator: ${dmb.reason}`, fix: 'load udmabuf (modprobe udmabuf), or enable a dma-heap or DRM device; see the checks below' }]);
  }
  return check('native', `${addon}; auto picks native: ${dmb.reason}`);
}

/** `ifPresent`: needed only by kernels that have it (7.3's rxe calls the crc32 library instead). */
const MODULES: Array<{ name: string; config: string; why: string; ifPresent?: true }> = [
  { name: 'udmabuf', config: 'CONFIG_UDMABUF', why: 'dma-bufs from memfds' },
  { name: 'vgem', config: 'CONFIG_DRM_VGEM', why: 'a DRM device with fences, for testing' },
  { name: 'crc32_generic', config: 'CONFIG_CRYPTO_CRC32', why: 'rdma_rxe on 6.12 needs it loaded first', ifPresent: true },
  { name: 'rdma_rxe', config: 'CONFIG_RDMA_RXE', why: 'soft-RoCE, RDMA on any NIC' },
  { name: 'ib_uverbs', config: 'CONFIG_INFINIBAND_USER_ACCESS', why: 'verbs from user space' },
  { name: 'rdma_ucm', config: 'CONFIG_INFINIBAND_USER_ACCESS', why: 'rdma_cm from user space' },
];

/** Loaded, built in, or loadable: /sys/module and the kernel's module lists. */
export function kernelCheck(): Check {
  const dir = `/lib/modules/${release()}`;
  const builtin = read(`${dir}/modules.builtin`);
  const loadable = read(`${dir}/modules.dep`);
  const known = (name: string, text: string | undefined) => text !== undefined && new RegExp(`/${name.replace(/_/g, '[_-]')}\\.ko`).test(text);
  const problems: Check['problems'] = [];
  const states = MODULES.map(({ name, config, why, ifPresent }) => {
    if (existsSync(`/sys/module/${name}`) || known(name, builtin)) return `${name} loaded`;
    // Only loading rdma_rxe needs it: once rxe is in, or where the kernel has no such module, it is not needed.
    if (ifPresent && (existsSync('/sys/module/rdma_rxe') || (loadable !== undefined && !known(name, loadable)))) return `${name} not needed`;
    if (known(name, loadable)) problems.push({ what: `${name} (${why}) is not loaded`, fix: `modprobe ${name}` });
    else if (loadable === undefined) problems.push({ what: `${name} (${why}) is not loaded and ${dir} is absent`, fix: `install the modules of kernel ${release()}, then modprobe ${name}` });
    else problems.push({ what: `${name} (${why}) is not in kernel ${release()}`, fix: `a kernel built with ${config}=m` });
    return `${name} absent`;
  });
  if (!existsSync('/dev/dma_heap/system')) {
    problems.push({ what: 'no system dma-heap (/dev/dma_heap/system)', fix: 'a kernel built with CONFIG_DMABUF_HEAPS=y and CONFIG_DMABUF_HEAPS_SYSTEM=y' });
  }
  return check('kernel', `kernel ${release()}: ${states.join(', ')}; dma-heap system ${existsSync('/dev/dma_heap/system') ? 'present' : 'absent'}`, problems);
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const UDEV = '/etc/udev/rules.d/70-dmabridge.rules';

/** Read-write access to every device node the native backend opens, as this user. */
export function permissionsCheck(): Check {
  const nodes = [
    ...(existsSync('/dev/udmabuf') ? ['/dev/udmabuf'] : []),
    ...list('/dev/dma_heap').map((n) => `/dev/dma_heap/${n}`),
    ...list('/dev/dri').filter((n) => /^(card|renderD)\d+$/.test(n)).map((n) => `/dev/dri/${n}`),
    ...list('/dev/infiniband').map((n) => `/dev/infiniband/${n}`),
  ];
  const denied = nodes.filter((node) => {
    try {
      accessSync(node, constants.R_OK | constants.W_OK);
      return false;
    } catch {
      return true;
    }
  });
  const rule = (node: string) => node.startsWith('/dev/infiniband/')
    ? { group: 'rdma', line: `KERNEL=="${node.slice('/dev/infiniband/'.length).replace(/\d+$/, '*')}", SUBSYSTEM=="infiniband*", GROUP="rdma", MODE="0660"` }
    : node.startsWith('/dev/dri/')
      ? { group: 'render', line: `SUBSYSTEM=="drm", KERNEL=="card*|renderD*", GROUP="render", MODE="0660"` }
      : node.startsWith('/dev/dma_heap/')
        ? { group: 'video', line: 'SUBSYSTEM=="dma_heap", GROUP="video", MODE="0660"' }
        : { group: 'video', line: 'KERNEL=="udmabuf", GROUP="video", MODE="0660"' };
  const problems = denied.map((node) => {
    const { group, line } = rule(node);
    return { what: `${node} is not readable and writable by this user`, fix: `add '${line}' to ${UDEV}, run udevadm control --reload && udevadm trigger, and usermod -aG ${group} $USER (then log in again)` };
  });
  return check('permissions', nodes.length ? `${nodes.length - denied.length} of ${nodes.length} device nodes usable: ${nodes.join(', ')}` : 'no device nodes to check', problems);
}

const CAP_IPC_LOCK = 14;

/** ulimit -l against registering `needMiB` of host memory; CAP_IPC_LOCK (root) is not limited. */
export function memlockCheck(needMiB: number): Check {
  const limits = read('/proc/self/limits') ?? '';
  const soft = limits.match(/^Max locked memory\s+(\S+)/m)?.[1];
  const bytes = soft === undefined || soft === 'unlimited' ? Infinity : Number(soft);
  const capEff = BigInt(`0x${read('/proc/self/status')?.match(/^CapEff:\s*([0-9a-f]+)/m)?.[1] ?? '0'}`);
  const exempt = (capEff >> BigInt(CAP_IPC_LOCK)) & 1n;
  const shown = bytes === Infinity ? 'unlimited' : `${bytes / 2 ** 20} MiB`;
  const found = `ulimit -l ${shown}${exempt ? ' (CAP_IPC_LOCK: registrations are not limited)' : ''}; ${needMiB} MiB asked for (--memlock)`;
  if (exempt || bytes >= needMiB * 2 ** 20) return check('memlock', found);
  return check('memlock', found, [{
    what: `registering ${needMiB} MiB of host memory needs a locked-memory limit of at least that, and it is ${shown}`,
    fix: `ulimit -l ${needMiB * 1024} in this shell (as root), or for good: '* - memlock unlimited' in /etc/security/limits.d/rdma.conf (LimitMEMLOCK=infinity for a systemd service)`,
  }]);
}

/** A native call, or the error it gave; undefined where the addon did not load. */
function tryNative<T>(call: (kernel: Backend) => T): { value?: T; error?: Error & { code?: string } } | undefined {
  const backend = loadNative().backend;
  if (!backend) return undefined;
  try {
    return { value: call(backend) };
  } catch (e) {
    return { error: e as Error & { code?: string } };
  }
}

const NO_ADDON = { what: 'the native addon did not load', fix: 'see the native check' };

/** rdma-core's libibverbs and librdmacm, and the version the loaded one carries in its file name. */
export function rdmaCoreCheck(): Check {
  const verbs = tryNative((k) => k.ibvGetDeviceList());
  if (!verbs) return check('rdma-core', 'not checked', [NO_ADDON]);
  const cm = tryNative((k) => {
    const { handle } = k.rdmaCreateEventChannel();
    k.rdmaDestroyEventChannel(handle);
  })!;
  const problems: Check['problems'] = [];
  const install = 'apt-get install rdma-core ibverbs-providers libibverbs1 librdmacm1 (dnf install rdma-core libibverbs librdmacm)';
  if (verbs.error?.code === 'ENOSYS') problems.push({ what: `libibverbs.so.1 does not load: ${verbs.error.message}`, fix: install });
  if (cm.error?.code === 'ENOSYS') problems.push({ what: `librdmacm.so.1 does not load: ${cm.error.message}`, fix: install });
  const maps = read('/proc/self/maps') ?? '';
  const version = maps.match(/libibverbs\.so\.1\.\d+\.(\d+)/)?.[1];
  return check('rdma-core', problems.length ? 'rdma-core libraries missing' : `libibverbs and librdmacm load${version ? ` (rdma-core ${version})` : ''}`, problems);
}

export interface RdmaDeviceFacts {
  name: string;
  port: string;
  gid: string;
  dmaBufMr: boolean;
}

/** The RDMA devices with port 1 state, GID 0 and the fd -1 dma-buf MR probe. */
export function rdmaDevices(): RdmaDeviceFacts[] | Error | undefined {
  if (!loadNative().backend) return undefined;
  try {
    using dmb = open({ backend: 'native' });
    return dmb.rdmaDevices().map(({ name }) => {
      using dev = dmb.openRdma(name);
      return { name, port: `${dev.port(1).state} ${dev.port(1).linkLayer}`, gid: dev.gid(1, 0), dmaBufMr: dev.canRegisterDmaBuf };
    });
  } catch (e) {
    return e as Error;
  }
}

export function rdmaCheck(devices: ReturnType<typeof rdmaDevices>): Check {
  if (devices === undefined) return check('rdma', 'not checked', [NO_ADDON]);
  if (devices instanceof Error) return check('rdma', 'no RDMA', [{ what: devices.message, fix: 'see the rdma-core check' }]);
  const found = devices.map((d) => `${d.name} port 1 ${d.port}, GID ${d.gid}`).join('; ');
  if (!devices.some((d) => d.port.startsWith('active'))) {
    return check('rdma', found || 'no RDMA devices', [{
      what: devices.length ? 'no RDMA device has port 1 active' : 'no RDMA devices (/sys/class/infiniband is empty)',
      fix: 'for soft-RoCE on a NIC: modprobe crc32_generic rdma_rxe && rdma link add rxe0 type rxe netdev <nic> (netdev lo for one host)',
    }]);
  }
  return check('rdma', found);
}

export function dmaBufMrCheck(devices: ReturnType<typeof rdmaDevices>): Check {
  if (!Array.isArray(devices) || devices.length === 0) return check('dma-buf-mr', 'no RDMA device to ask', [{ what: 'no RDMA device', fix: 'see the rdma check' }]);
  const able = devices.filter((d) => d.dmaBufMr).map((d) => d.name);
  if (able.length) return check('dma-buf-mr', `${able.join(', ')} can register dma-bufs (ibv_reg_dmabuf_mr)`);
  return check('dma-buf-mr', `none of ${devices.map((d) => d.name).join(', ')} can register dma-bufs`, [{
    what: 'ibv_reg_dmabuf_mr is not supported by these devices (rxe has no dma-buf MRs on 6.12)',
    fix: 'a NIC whose driver registers dma-bufs (mlx5 on Linux 5.12+); meanwhile registerDmaBuf(buf, { fallback: \'memfd-pages\' }) registers a udmabuf through its memfd pages',
  }]);
}

export function rdmaCmCheck(): Check {
  const node = '/dev/infiniband/rdma_cm';
  if (existsSync(node)) return check('rdma-cm', `${node} present`);
  return check('rdma-cm', `${node} absent`, [{ what: 'rdma_cm from user space needs the rdma_ucm module', fix: 'modprobe rdma_ucm' }]);
}

export function cudaCheck(): Check {
  const result = tryNative(cudaDevices);
  if (!result) return check('cuda', 'not checked', [NO_ADDON]);
  if (result.error) {
    const fix = result.error.code === 'ENOSYS' ? 'install the NVIDIA driver (it provides libcuda.so.1)' : 'see nvidia-smi for the driver\'s state';
    return check('cuda', 'no CUDA', [{ what: result.error.message, fix }]);
  }
  const gpus = result.value!;
  const found = gpus.map((g) => `GPU ${g.ordinal} ${g.name}: dma-bufs ${g.dmaBuf ? 'yes' : 'no'}`).join('; ');
  if (!gpus.some((g) => g.dmaBuf)) {
    return check('cuda', found || 'libcuda loads but finds no GPU', [{
      what: gpus.length ? 'no GPU exports dma-bufs' : 'no GPU',
      fix: 'NVIDIA\'s open kernel modules on a Turing or newer GPU, with Linux 5.12 or newer',
    }]);
  }
  return check('cuda', found);
}

export function deviceCheck(id: string, path: string, fix: string): Check {
  return existsSync(path) ? check(id, `${path} present`) : check(id, `${path} absent`, [{ what: `no ${path}`, fix }]);
}

/** vgem's DRM node, by the driver name the kernel gives (DRM_IOCTL_VERSION), as open().drmNodes() finds it. */
export function vgemCheck(): Check {
  const missing = [{ what: 'no vgem device (a DRM device with fences, for testing)', fix: 'modprobe vgem' }];
  if (!loadNative().backend) return existsSync('/sys/module/vgem') ? check('vgem', 'vgem loaded (its node not opened: no addon)') : check('vgem', 'no vgem', missing);
  using dmb = open({ backend: 'native' });
  const node = dmb.drmNodes().find((n) => n.driver === 'vgem');
  return node ? check('vgem', `${node.path} is vgem`) : check('vgem', 'no vgem DRM node', missing);
}
