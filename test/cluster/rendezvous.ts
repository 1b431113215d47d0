// The two hosts of a cluster test meet at named points: each side's sync(tag,
// data) resolves with what the other side passed at the same tag. Over TCP
// between two guests; in memory between two emulated hosts of one process.
import { createConnection, createServer, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Rendezvous {
  sync(tag: string, data?: unknown): Promise<unknown>;
  close(): void;
}

/** Lines of JSON { tag, data } over one socket; messages for a tag not yet awaited wait in a mailbox. */
class LineRendezvous implements Rendezvous {
  readonly #mailbox = new Map<string, unknown[]>();
  readonly #waiting = new Map<string, (data: unknown) => void>();
  #buffered = '';

  constructor(private readonly socket: Socket, private readonly onClose: () => void = () => {}) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffered += chunk;
      for (let nl = this.#buffered.indexOf('\n'); nl >= 0; nl = this.#buffered.indexOf('\n')) {
        const { tag, data } = JSON.parse(this.#buffered.slice(0, nl)) as { tag: string; data: unknown };
        this.#buffered = this.#buffered.slice(nl + 1);
        const waiter = this.#waiting.get(tag);
        if (waiter) {
          this.#waiting.delete(tag);
          waiter(data);
        } else {
          this.#mailbox.set(tag, [...(this.#mailbox.get(tag) ?? []), data]);
        }
      }
    });
  }

  sync(tag: string, data: unknown = null): Promise<unknown> {
    this.socket.write(`${JSON.stringify({ tag, data }, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}\n`);
    const queued = this.#mailbox.get(tag);
    if (queued?.length) return Promise.resolve(queued.shift());
    return new Promise((resolve) => this.#waiting.set(tag, resolve));
  }

  close(): void {
    this.socket.destroy();
    this.onClose();
  }
}

/** Host A listens for host B's control connection. */
export async function listenRendezvous(host: string, port: number): Promise<Rendezvous> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const socket = await new Promise<Socket>((resolve) => server.once('connection', resolve));
  return new LineRendezvous(socket, () => server.close());
}

/** Host B connects to host A, retrying while A's guest is still starting. */
export async function connectRendezvous(host: string, port: number, timeoutMs: number): Promise<Rendezvous> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const s = createConnection({ host, port }, () => resolve(s));
        s.once('error', reject);
      });
      return new LineRendezvous(socket);
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`no control connection to ${host}:${port} after ${timeoutMs} ms: ${(e as Error).message}`);
      await sleep(500);
    }
  }
}

/** The same meeting place with every tag under `scope`; closing it leaves the shared one open. */
export function scopedRendezvous(meet: Rendezvous, scope: string): Rendezvous {
  return { sync: (tag, data) => meet.sync(`${scope}: ${tag}`, data), close() {} };
}

/** Two ends joined in memory, for two emulated hosts in one process. */
export function memoryRendezvous(): [Rendezvous, Rendezvous] {
  const boxes = [new Map<string, unknown[]>(), new Map<string, unknown[]>()];
  const waiting = [new Map<string, (d: unknown) => void>(), new Map<string, (d: unknown) => void>()];
  const end = (me: 0 | 1): Rendezvous => ({
    sync(tag, data = null) {
      const peer = 1 - me;
      const waiter = waiting[peer]!.get(tag);
      if (waiter) {
        waiting[peer]!.delete(tag);
        waiter(data);
      } else {
        boxes[peer]!.set(tag, [...(boxes[peer]!.get(tag) ?? []), data]);
      }
      const queued = boxes[me]!.get(tag);
      if (queued?.length) return Promise.resolve(queued.shift());
      return new Promise((resolve) => waiting[me]!.set(tag, resolve));
    },
    close() {},
  });
  return [end(0), end(1)];
}
