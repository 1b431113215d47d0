import { instanceArg, invalidType, invalidValue, toFd, toInt, toStringArg, waitOptions } from './args';
import type { Backend, ReceivedMessage } from '../seam/backend';
import { adoptDmaBuf, DmaBuf } from './dmabuf';
import { FdResource, waitFor } from './fd-resource';
import { peerFilter, peerRefused, type PeerAllow, type PeerCredentials } from './peer';
import { assertOpen, parentOf, type Resource, teardown } from './resource';
import { isSystemError, systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import type { WaitOptions } from './wait';

// Passing fds between processes over Unix domain stream sockets (SCM_RIGHTS):
// how a dma-buf that a Python or C program exported reaches this one. The
// sockets never block: a call that would waits for readiness instead.

export type { ReceivedMessage };
export type { PeerAllow, PeerCredentials };

const RECEIVE_BYTES = 64 * 1024;
/** Listening sockets are the owner's alone unless asked otherwise. */
const DEFAULT_MODE = 0o600;

export interface UnixListenOptions {
  /** Connections the kernel queues before accept(). Default 16. */
  backlog?: number;
  /** The socket file's permission bits, exactly (the umask does not narrow them). Default 0o600: only this user may connect. */
  mode?: number;
  /** The peers accept() takes; others are closed before any byte or fd passes. Default: whoever the mode lets connect. */
  allow?: PeerAllow;
}

export interface UnixConnectOptions {
  /** The listeners this connection may be to; any other is closed and the call fails with EPERM. */
  allow?: PeerAllow;
}

export interface ReceiveOptions extends WaitOptions {
  /** The most bytes to read. Default 64 KiB. */
  maxBytes?: number;
}

export interface SendOptions extends WaitOptions {
  /** Files to pass with the data's first byte: fd numbers, or open dmabridge objects. */
  fds?: Array<number | FdResource>;
}

/** Runs `op` until it does not fail with EAGAIN, waiting for `socket` to poll `events` in between. */
async function retry<T>(socket: FdResource, events: number, opts: WaitOptions | undefined, op: () => T): Promise<T> {
  const options = waitOptions(opts);
  const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
  for (;;) {
    assertOpen(socket);
    try {
      return op();
    } catch (e) {
      if (!isSystemError(e) || e.code !== 'EAGAIN') throw e;
    }
    const timeout = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
    await waitFor(socket, events, { signal: options.signal, timeout });
  }
}

/** A connected Unix stream socket that carries bytes and fds. */
export class UnixChannel extends FdResource {
  /**
   * The peer's process when the connection was made (SO_PEERCRED): the
   * client's for an accepted channel, the listener's for a connected one.
   */
  readonly peer: PeerCredentials;

  /** @internal made by DmaBridge's socket methods and UnixListener.accept() */
  constructor(seam: Backend, fd: number, parent: Resource, peer = seam.peerCred(fd)) {
    super(seam, fd, parent);
    this.peer = Object.freeze({ ...peer });
  }

  /**
   * Sends `data` with `options.fds` attached to its first byte (so fds need
   * at least one byte). The files are the ones open when send() is called,
   * even if their fds are closed while it waits.
   */
  async send(data: Uint8Array | string, opts?: SendOptions): Promise<void> {
    const options = waitOptions(opts);
    assertOpen(this);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (!(bytes instanceof Uint8Array)) throw invalidType('data', 'a Uint8Array or a string', data);
    const items = options.fds ?? [];
    if (items.length > 0 && bytes.length === 0) throw invalidValue('data', '', 'must hold at least one byte to carry fds');
    const fds = this.#dupAll(items);
    try {
      let sent = 0;
      while (sent < bytes.length) {
        const attach = sent === 0 ? fds : [];
        sent += await retry(this, uapi.POLLOUT, options, () => this.seam.sendFds(this.fd, attach, bytes.subarray(sent)));
      }
    } finally {
      for (const fd of fds) this.seam.close(fd);
    }
  }

  /**
   * The next bytes and fds that arrive; empty data means the peer closed its
   * end. The fds are the caller's to close (DmaBridge.importDmaBuf with
   * { adopt: true } wraps a dma-buf among them).
   */
  async receive(opts?: ReceiveOptions): Promise<ReceivedMessage> {
    const options = waitOptions(opts);
    const max = options.maxBytes === undefined ? RECEIVE_BYTES : toInt(options.maxBytes, 'options.maxBytes', 1, 2 ** 30);
    return retry(this, uapi.POLLIN, options, () => complete(this.seam, this.seam.recvFds(this.fd, max)));
  }

  /** Passes a dma-buf to the peer, with one byte to carry it. */
  async sendDmaBuf(buf: DmaBuf, options?: WaitOptions): Promise<void> {
    instanceArg(buf, DmaBuf, 'buf');
    return this.send(new Uint8Array(1), { ...waitOptions(options), fds: [buf] });
  }

  /**
   * Receives a dma-buf the peer passed and wraps it as a DmaBuf. Reads only
   * the byte that carries the fd: anything else the peer sent with it is
   * left for receive().
   */
  async receiveDmaBuf(options?: WaitOptions): Promise<DmaBuf> {
    const { data, fds } = await this.receive({ ...waitOptions(options), maxBytes: 1 });
    if (fds.length !== 1) {
      for (const fd of fds) this.seam.close(fd);
      if (data.length === 0) throw systemError('ECONNRESET', 'recvmsg', 'the peer closed the connection before it passed a dma-buf');
      throw systemError('EBADMSG', 'recvmsg', fds.length === 0
        ? 'the peer sent data without an fd where a dma-buf was expected: it must pass the fd with SCM_RIGHTS'
        : `the peer passed ${fds.length} fds where one dma-buf was expected`);
    }
    return adoptDmaBuf(this.seam, fds[0], parentOf(this)!);
  }

  // Duplicates for the duration of a send, so the files cannot change under it.
  #dupAll(items: Array<number | FdResource>): number[] {
    if (!Array.isArray(items)) throw invalidType('options.fds', 'an array of fds or dmabridge objects', items);
    const fds: number[] = [];
    try {
      for (const item of items) {
        if (item instanceof FdResource) assertOpen(item);
        else toFd(item, 'options.fds[]');
        fds.push(this.seam.dup(item instanceof FdResource ? item.fd : item));
      }
    } catch (e) {
      for (const fd of fds) this.seam.close(fd);
      throw e;
    }
    return fds;
  }
}

/** A listening Unix socket bound to a path; closing it removes the path. */
export class UnixListener extends FdResource {
  readonly #allowed: ((peer: PeerCredentials) => boolean) | undefined;

  /** @internal made by DmaBridge.listenUnix() */
  constructor(
    seam: Backend,
    fd: number,
    /** The socket's path in the filesystem. */
    readonly path: string,
    parent: Resource,
    allowed?: (peer: PeerCredentials) => boolean,
  ) {
    super(seam, fd, parent);
    this.#allowed = allowed;
    teardown(this, () => {
      try {
        seam.unlink(path);
      } catch (e) {
        if (!isSystemError(e) || e.code !== 'ENOENT') throw e;
      }
    });
  }

  /**
   * The next connection that options.allow accepts, as a channel that lives
   * on when the listener closes. Connections it refuses are closed unread.
   */
  async accept(options?: WaitOptions): Promise<UnixChannel> {
    const parent = parentOf(this)!;
    const allowed = this.#allowed;
    return retry(this, uapi.POLLIN, options, () => {
      for (;;) {
        const channel = adopt(this.seam, this.seam.unixAccept(this.fd), (fd) => {
          const peer = this.seam.peerCred(fd);
          if (!allowed || allowed(peer)) return new UnixChannel(this.seam, fd, parent, peer);
          this.seam.close(fd);
          return undefined;
        });
        if (channel) return channel;
      }
    });
  }
}

export function listenUnix(seam: Backend, parent: Resource, path: string, options: UnixListenOptions): UnixListener {
  socketPath(path);
  const backlog = options.backlog === undefined ? 16 : toInt(options.backlog, 'options.backlog', 1, 0x7fffffff);
  const mode = options.mode === undefined ? DEFAULT_MODE : toInt(options.mode, 'options.mode', 0, 0o777);
  const allowed = peerFilter(options.allow, 'options.allow');
  return adopt(seam, bindOverStale(seam, path, backlog, mode), (fd) => new UnixListener(seam, fd, path, parent, allowed));
}

/** Listens at `path`, first removing a stale socket of this user's there; anything else there is EADDRINUSE. */
function bindOverStale(seam: Backend, path: string, backlog: number, mode: number): number {
  try {
    return seam.unixListen(path, backlog, mode);
  } catch (e) {
    if (!isSystemError(e) || e.code !== 'EADDRINUSE' || !isStaleSocket(seam, path)) throw e;
  }
  try {
    seam.unlink(path);
  } catch (e) {
    if (!isSystemError(e) || e.code !== 'ENOENT') throw e;
  }
  return seam.unixListen(path, backlog, mode);
}

/**
 * A socket file this user owns that nobody listens on (connect is refused):
 * what a listener that died leaves behind. A file gone meanwhile counts too.
 */
function isStaleSocket(seam: Backend, path: string): boolean {
  let file;
  try {
    file = seam.lstat(path);
  } catch (e) {
    if (isSystemError(e) && e.code === 'ENOENT') return true;
    throw e;
  }
  if ((file.mode & uapi.S_IFMT) !== uapi.S_IFSOCK || file.uid !== seam.credentials().uid) return false;
  try {
    seam.close(seam.unixConnect(path));
    return false;
  } catch (e) {
    if (isSystemError(e) && e.code === 'ECONNREFUSED') return true;
    throw e;
  }
}

export function connectUnix(seam: Backend, parent: Resource, path: string, options: UnixConnectOptions): UnixChannel {
  socketPath(path);
  const allowed = peerFilter(options.allow, 'options.allow');
  return adopt(seam, seam.unixConnect(path), (fd) => {
    const peer = seam.peerCred(fd);
    if (allowed && !allowed(peer)) throw peerRefused(`the listener at ${path}`, peer);
    return new UnixChannel(seam, fd, parent, peer);
  });
}

export function socketPair(seam: Backend, parent: Resource): [UnixChannel, UnixChannel] {
  const [a, b] = seam.socketpair();
  let first: UnixChannel;
  try {
    first = new UnixChannel(seam, a, parent);
  } catch (e) {
    seam.close(a);
    seam.close(b);
    throw e;
  }
  return [first, adopt(seam, b, (fd) => new UnixChannel(seam, fd, parent), () => first.close())];
}

/** Wraps a socket fd made elsewhere (one a parent process passed down), duplicated unless `adopt`. */
export function importSocket(seam: Backend, parent: Resource, fd: number, adoptFd: boolean): UnixChannel {
  const own = adoptFd ? fd : seam.dup(fd);
  return adopt(seam, own, () => {
    if (!seam.readlinkFd(own).startsWith('socket:')) throw systemError('ENOTSOCK', 'recvmsg', `fd ${fd} is not a socket`);
    return new UnixChannel(seam, own, parent);
  });
}

/**
 * A received message whose fds all arrived. Where some did not (MSG_CTRUNC:
 * this process ran out of fd numbers, or the control buffer was full), the
 * ones that did are closed and the call fails: a partial set of fds is no
 * message the caller can trust.
 */
function complete(seam: Backend, message: ReceivedMessage): ReceivedMessage {
  if (!(message.flags & uapi.MSG_CTRUNC)) return message;
  for (const fd of message.fds) seam.close(fd);
  throw systemError('EMSGSIZE', 'recvmsg', `recvmsg failed: EMSGSIZE (the peer's fds did not all arrive (MSG_CTRUNC); the ${message.fds.length} that did were closed: raise ulimit -n or close fds you no longer use, and have the peer send fewer fds per message)`);
}

/** make(fd), or on failure the fd closed (and `undo` run) before the error goes on. */
function adopt<T>(seam: Backend, fd: number, make: (fd: number) => T, undo?: () => void): T {
  try {
    return make(fd);
  } catch (e) {
    seam.close(fd);
    undo?.();
    throw e;
  }
}

function socketPath(path: unknown): void {
  if (toStringArg(path, 'path') === '') throw invalidValue('path', path, 'must be a non-empty path');
}
