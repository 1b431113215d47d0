// Unix domain stream sockets (net/unix/af_unix.c) that carry open files
// between the processes of one machine (SCM_RIGHTS). Every socket is
// non-blocking, as the Backend makes them. Socket files have an owner and a
// mode that connect(2) checks, and sockets carry their peer's credentials
// (SO_PEERCRED). Not modelled: the directories the paths live in (any path
// binds, and no search permission is checked), and the garbage collector that
// frees sockets passed over themselves.
import type { Credentials, FileStat } from '../seam/backend';
import { isSystemError, systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import { O_NONBLOCK, POLLRDNORM, POLLWRNORM } from './abi';
import { FileObject, OpenFile } from './files';
import type { Machine } from './machine';
import { WaitQueue } from './poll';

/** SCM_MAX_FD. */
const MAX_FDS = 253;
/** sk_sndbuf's default (net.core.wmem_default): bytes a sender may have queued. */
const SNDBUF = 212992;
/** sun_path holds 108 bytes, NUL included. */
const SUN_PATH = 108;
/** recvmsg reports MSG_CMSG_CLOEXEC back in msg_flags, as Linux does. */
const MSG_CMSG_CLOEXEC = 0x40000000;
/** sockfs's mount, as fdinfo shows it (the number varies by boot). */
const SOCKFS_MNT = 8;
const POLLWRBAND = 0x200;
const POLLRDHUP = 0x2000;
/** SO_PEERCRED of a socket with no peer: no pid, and (uid_t)-1. */
const NO_PEER: Credentials = { pid: 0, uid: 0xffffffff, gid: 0xffffffff };

/** Who a process is, for permission checks: its credentials and supplementary groups. */
export interface Identity extends Credentials {
  groups: readonly number[];
}

/** One sendmsg's bytes, with the files attached to the first of them. */
interface Skb {
  data: Uint8Array;
  consumed: number;
  files: OpenFile[] | undefined;
}

export class UnixSocket implements FileObject {
  readonly inode;
  readonly waitQueue = new WaitQueue();
  peer: UnixSocket | undefined;
  /** sk_peer_cred: the peer's process when the connection was made; for a listener, its own at listen(2). */
  peerCred = NO_PEER;
  /** The peer went away: reads drain, then answer end of stream. */
  #shutdown = false;
  /** sk_err: the peer closed with data of ours unread (or unaccepted); the next read reports it once. */
  #reset = false;
  readonly #queue: Skb[] = [];
  /** Bytes this socket has sent that its peer has not read (sk_wmem_alloc). */
  #unread = 0;
  /** Listening: the backlog and the connections not yet accepted. */
  #listen: { backlog: number; pending: UnixSocket[]; path: string } | undefined;

  constructor(private readonly machine: Machine) {
    this.inode = { ino: machine.nextIno(), mntId: SOCKFS_MNT };
  }

  dname(): string {
    return `socket:[${this.inode.ino}]`;
  }

  /** A new socket as an open file: O_RDWR|O_NONBLOCK (SOCK_NONBLOCK). */
  static file(machine: Machine, socket = new UnixSocket(machine)): OpenFile {
    return new OpenFile(socket, uapi.O_RDWR | O_NONBLOCK);
  }

  static pair(machine: Machine, self: Identity): [OpenFile, OpenFile] {
    const [a, b] = UnixSocket.#connected(machine);
    a.peerCred = b.peerCred = credentials(self);
    return [UnixSocket.file(machine, a), UnixSocket.file(machine, b)];
  }

  static #connected(machine: Machine): [UnixSocket, UnixSocket] {
    const a = new UnixSocket(machine);
    const b = new UnixSocket(machine);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  /** socket(2), fchmod(2), bind(2) and listen(2): the file is `mode`, owned by `self`. */
  static listen(machine: Machine, path: string, backlog: number, mode: number, self: Identity): OpenFile {
    const socket = new UnixSocket(machine);
    sockets(machine).bind(path, socket, mode & 0o777, self);
    socket.#listen = { backlog: Math.max(0, backlog), pending: [], path };
    socket.peerCred = credentials(self);
    return UnixSocket.file(machine, socket);
  }

  static lstat(machine: Machine, path: string): FileStat {
    return sockets(machine).lstat(path);
  }

  static unlink(machine: Machine, path: string): void {
    sockets(machine).unlink(path);
  }

  /**
   * connect(2) to a listener (unix_stream_connect): the connection is usable
   * before it is accepted. The client learns the listener's credentials; the
   * server end records the connecting process's.
   */
  static connect(machine: Machine, path: string, self: Identity): OpenFile {
    const listener = sockets(machine).lookup(path, self);
    const l = listener.#listen!;
    if (l.pending.length > l.backlog) throw systemError('EAGAIN', 'connect');
    const [client, server] = UnixSocket.#connected(machine);
    client.peerCred = listener.peerCred;
    server.peerCred = credentials(self);
    l.pending.push(server);
    listener.waitQueue.wake();
    return UnixSocket.file(machine, client);
  }

  accept(): OpenFile {
    if (!this.#listen) throw systemError('EINVAL', 'accept4');
    const next = this.#listen.pending.shift();
    if (!next) throw systemError('EAGAIN', 'accept4');
    return UnixSocket.file(this.machine, next);
  }

  /**
   * sendmsg with MSG_DONTWAIT: the fds are looked up first (scm_send), then
   * as many bytes as fit are queued, the files with the first.
   */
  send(data: Uint8Array, fds: number[], lookup: (fd: number) => OpenFile): number {
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array');
    if (fds.length > MAX_FDS) throw systemError('EINVAL', 'sendmsg');
    const files = fds.map(lookup);
    const peer = this.peer;
    if (!peer) throw systemError(this.#shutdown ? 'EPIPE' : 'ENOTCONN', 'sendmsg');
    if (data.length === 0) return 0;
    const room = SNDBUF - this.#unread;
    if (room <= 0) throw systemError('EAGAIN', 'sendmsg');
    const sent = Math.min(room, data.length);
    peer.#queue.push({ data: data.slice(0, sent), consumed: 0, files: files.length ? files.map((f) => f.get()) : undefined });
    this.#unread += sent;
    peer.waitQueue.wake();
    return sent;
  }

  /**
   * unix_stream_read_generic without MSG_PEEK: reads on across messages,
   * but stops at the end of one that carried files, so files never mix.
   */
  receive(maxBytes: number): { data: Uint8Array; files: OpenFile[]; flags: number } {
    if (this.#listen || (!this.peer && !this.#shutdown)) throw systemError('EINVAL', 'recvmsg');
    if (this.#reset) {
      this.#reset = false;
      throw systemError('ECONNRESET', 'recvmsg');
    }
    if (this.#queue.length === 0) {
      if (this.#shutdown) return { data: new Uint8Array(0), files: [], flags: MSG_CMSG_CLOEXEC };
      throw systemError('EAGAIN', 'recvmsg');
    }
    const out: Uint8Array[] = [];
    let files: OpenFile[] = [];
    let size = maxBytes;
    while (size > 0 && this.#queue.length > 0) {
      const skb = this.#queue[0];
      const chunk = Math.min(size, skb.data.length - skb.consumed);
      out.push(skb.data.subarray(skb.consumed, skb.consumed + chunk));
      skb.consumed += chunk;
      size -= chunk;
      if (this.peer) this.peer.#consumed(chunk);
      if (skb.files) [files, skb.files] = [skb.files, undefined];
      if (skb.consumed < skb.data.length) break;
      this.#queue.shift();
      if (files.length > 0) break;
    }
    return { data: Buffer.concat(out), files, flags: MSG_CMSG_CLOEXEC };
  }

  #consumed(bytes: number): void {
    this.#unread -= bytes;
    this.waitQueue.wake();
  }

  /** unix_poll. */
  poll(_file: OpenFile, _events: number): number {
    if (this.#listen) return this.#listen.pending.length > 0 ? uapi.POLLIN | POLLRDNORM : 0;
    let mask = 0;
    if (this.#reset) mask |= uapi.POLLERR;
    if (this.#shutdown) mask |= uapi.POLLHUP | POLLRDHUP | uapi.POLLIN | POLLRDNORM;
    if (!this.peer && !this.#shutdown) mask |= uapi.POLLHUP;
    if (this.#queue.length > 0) mask |= uapi.POLLIN | POLLRDNORM;
    if (this.#unread * 4 <= SNDBUF) mask |= uapi.POLLOUT | POLLWRNORM | POLLWRBAND;
    return mask;
  }

  /**
   * unix_release_sock: the peer sees the end of the stream, or ECONNRESET
   * first where it had sent what was never read; unread files and
   * connections go.
   */
  release(embryo = false): void {
    if (this.#listen) {
      sockets(this.machine).unbind(this.#listen.path, this);
      for (const pending of this.#listen.pending) pending.release(true);
      this.#listen.pending = [];
    }
    const peer = this.peer;
    this.peer = undefined;
    if (peer) {
      peer.peer = undefined;
      peer.#shutdown = true;
      if (this.#queue.length > 0 || embryo) peer.#reset = true;
      peer.waitQueue.wake();
    }
    for (const skb of this.#queue.splice(0)) for (const f of skb.files ?? []) f.put();
  }
}

/** A socket file: its owner and mode, and the socket bound to it while that lives. */
interface SocketFile {
  socket: UnixSocket | undefined;
  mode: number;
  uid: number;
  gid: number;
}

/** The socket files in the filesystem, by path: they outlive their listener until unlinked. */
class Namespace {
  readonly #paths = new Map<string, SocketFile>();

  constructor(private readonly machine: Machine) {}

  bind(path: string, socket: UnixSocket, mode: number, owner: Identity): void {
    checkPath(path, 'bind');
    if (this.#paths.has(path) || otherFileAt(this.machine, path)) throw systemError('EADDRINUSE', 'bind');
    this.#paths.set(path, { socket, mode, uid: owner.uid, gid: owner.gid });
  }

  unbind(path: string, socket: UnixSocket): void {
    const file = this.#paths.get(path);
    if (file?.socket === socket) file.socket = undefined;
  }

  /** unix_find_bsd: write permission on the file, then a socket that listens. */
  lookup(path: string, self: Identity): UnixSocket {
    checkPath(path, 'connect');
    const file = this.#paths.get(path);
    if (file && !mayWrite(file, self)) throw systemError('EACCES', 'connect');
    if (file?.socket) return file.socket;
    throw systemError(file || otherFileAt(this.machine, path) ? 'ECONNREFUSED' : 'ENOENT', 'connect');
  }

  /** Socket files as bind made them; devtmpfs's nodes and directories as the kernel VM has them (root's, no udev). */
  lstat(path: string): FileStat {
    const file = this.#paths.get(path);
    if (file) return { mode: uapi.S_IFSOCK | file.mode, uid: file.uid, gid: file.gid };
    try {
      this.machine.readdir(path);
      return { mode: uapi.S_IFDIR | 0o755, uid: 0, gid: 0 };
    } catch (e) {
      if (isSystemError(e) && e.code === 'ENOTDIR') return { mode: uapi.S_IFCHR | 0o600, uid: 0, gid: 0 };
    }
    throw systemError('ENOENT', 'lstat');
  }

  unlink(path: string): void {
    if (this.#paths.delete(path)) return;
    throw systemError(otherFileAt(this.machine, path) ? 'EPERM' : 'ENOENT', 'unlink');
  }
}

/** generic_permission for MAY_WRITE: root passes (CAP_DAC_OVERRIDE); else the owner's, group's or others' bit. */
function mayWrite(file: SocketFile, who: Identity): boolean {
  if (who.uid === 0) return true;
  if (who.uid === file.uid) return (file.mode & 0o200) !== 0;
  if (who.gid === file.gid || who.groups.includes(file.gid)) return (file.mode & 0o020) !== 0;
  return (file.mode & 0o002) !== 0;
}

function credentials({ pid, uid, gid }: Identity): Credentials {
  return { pid, uid, gid };
}

/** Whether a device node or directory of the emulated machine is at `path`. */
function otherFileAt(machine: Machine, path: string): boolean {
  try {
    machine.readdir(path);
    return true;
  } catch (e) {
    return isSystemError(e) && e.code === 'ENOTDIR';
  }
}

function checkPath(path: string, syscall: string): void {
  if (path.includes('\0')) throw new TypeError('path must not contain NUL characters');
  if (path.length === 0 || Buffer.byteLength(path) >= SUN_PATH) throw systemError('EINVAL', syscall);
}

const namespaces = new WeakMap<Machine, Namespace>();

function sockets(machine: Machine): Namespace {
  let ns = namespaces.get(machine);
  if (!ns) namespaces.set(machine, (ns = new Namespace(machine)));
  return ns;
}
