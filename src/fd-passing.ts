import type { Backend, ReceivedMessage } from '../seam/backend';
import { adoptDmaBuf, DmaBuf } from './dmabuf';
import { FdResource } from './fd-resource';
import type { Resource } from './resource';
import { isSystemError, systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import type { WaitOptions } from './wait';

// Passing fds between processes over Unix domain stream sockets (SCM_RIGHTS):
// how a dma-buf that a Python or C program exported reaches this one. The
// sockets never block: a call that would waits for readiness instead.

export type { ReceivedMessage };

const RECEIVE_BYTES = 64 * 1024;

export interface ReceiveOptions extends WaitOptions {
  /** The most bytes to read. Default 64 KiB. */
  maxBytes?: number;
}

export interface SendOptions extends WaitOptions {
  /** Files to pass with the data's first byte: fd numbers, or open dmabridge objects. */
  fds?: Array<number | FdResource>;
}

abstract class Socket extends FdResource {
  /** Runs `op` until it does not fail with EAGAIN, waiting for `events` in between. */
  protected async retry<T>(events: number, options: WaitOptions, op: () => T): Promise<T> {
    const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
    for (;;) {
      this.assertOpen();
      try {
        return op();
      } catch (e) {
        if (!isSystemError(e) || e.code !== 'EAGAIN') throw e;
      }
      const timeout = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
      await this.waitFor(events, { signal: options.signal, timeout });
    }
  }
}

/** A connected Unix stream socket that carries bytes and fds. */
export class UnixChannel extends Socket {
  /** @internal made by DmaBridge's socket methods and UnixListener.accept() */
  constructor(seam: Backend, fd: number, parent: Resource) {
    super(seam, fd, parent);
  }

  /**
   * Sends `data` with `options.fds` attached to its first byte (so fds need
   * at least one byte). The files are the ones open when send() is called,
   * even if their fds are closed while it waits.
   */
  async send(data: Uint8Array | string, options: SendOptions = {}): Promise<void> {
    this.assertOpen();
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array or a string');
    const fds = this.#dupAll(options.fds ?? []);
    try {
      if (fds.length > 0 && bytes.length === 0) throw new TypeError('fds travel with data: send at least one byte');
      let sent = 0;
      while (sent < bytes.length) {
        const attach = sent === 0 ? fds : [];
        sent += await this.retry(uapi.POLLOUT, options, () => this.seam.sendFds(this.fd, attach, bytes.subarray(sent)));
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
  receive(options: ReceiveOptions = {}): Promise<ReceivedMessage> {
    const max = options.maxBytes ?? RECEIVE_BYTES;
    if (!Number.isSafeInteger(max) || max < 1 || max > 2 ** 30) throw new TypeError(`maxBytes must be an integer in [1, 2^30], got ${String(max)}`);
    return this.retry(uapi.POLLIN, options, () => this.seam.recvFds(this.fd, max));
  }

  /** Passes a dma-buf to the peer, with one byte to carry it. */
  sendDmaBuf(buf: DmaBuf, options: WaitOptions = {}): Promise<void> {
    if (!(buf instanceof DmaBuf)) throw new TypeError('buf must be a DmaBuf');
    return this.send(new Uint8Array(1), { ...options, fds: [buf] });
  }

  /**
   * Receives a dma-buf the peer passed and wraps it as a DmaBuf. Reads only
   * the byte that carries the fd: anything else the peer sent with it is
   * left for receive().
   */
  async receiveDmaBuf(options: WaitOptions = {}): Promise<DmaBuf> {
    const { data, fds } = await this.receive({ ...options, maxBytes: 1 });
    if (fds.length !== 1) {
      for (const fd of fds) this.seam.close(fd);
      if (data.length === 0) throw systemError('ECONNRESET', 'recvmsg', 'the peer closed the connection before it passed a dma-buf');
      throw systemError('EBADMSG', 'recvmsg', fds.length === 0
        ? 'the peer sent data without an fd where a dma-buf was expected: it must pass the fd with SCM_RIGHTS'
        : `the peer passed ${fds.length} fds where one dma-buf was expected`);
    }
    return adoptDmaBuf(this.seam, fds[0], this.parent!);
  }

  // Duplicates for the duration of a send, so the files cannot change under it.
  #dupAll(items: Array<number | FdResource>): number[] {
    if (!Array.isArray(items)) throw new TypeError('fds must be an array of fds or dmabridge objects');
    const fds: number[] = [];
    try {
      for (const item of items) {
        if (item instanceof FdResource) item.assertOpen();
        else if (!Number.isInteger(item) || item < 0) throw new TypeError(`fds must hold fds or dmabridge objects, got ${String(item)}`);
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
export class UnixListener extends Socket {
  /** @internal made by DmaBridge.listenUnix() */
  constructor(
    seam: Backend,
    fd: number,
    /** The socket's path in the filesystem. */
    readonly path: string,
    parent: Resource,
  ) {
    super(seam, fd, parent);
  }

  /** The next connection, as a channel that lives on when the listener closes. */
  accept(options: WaitOptions = {}): Promise<UnixChannel> {
    const parent = this.parent!;
    return this.retry(uapi.POLLIN, options, () => adopt(this.seam, this.seam.unixAccept(this.fd), (fd) => new UnixChannel(this.seam, fd, parent)));
  }

  protected override release(): void {
    super.release();
    try {
      this.seam.unlink(this.path);
    } catch (e) {
      if (!isSystemError(e) || e.code !== 'ENOENT') throw e;
    }
  }
}

export function listenUnix(seam: Backend, parent: Resource, path: string, backlog = 16): UnixListener {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
  if (!Number.isSafeInteger(backlog) || backlog < 1) throw new TypeError(`backlog must be a positive integer, got ${String(backlog)}`);
  return adopt(seam, seam.unixListen(path, backlog), (fd) => new UnixListener(seam, fd, path, parent));
}

export function connectUnix(seam: Backend, parent: Resource, path: string): UnixChannel {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
  return adopt(seam, seam.unixConnect(path), (fd) => new UnixChannel(seam, fd, parent));
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
