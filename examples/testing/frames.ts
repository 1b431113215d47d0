// A small user module, as a user of dmabridge would write it: a receiver
// offers a dma-buf for one frame over rdma_cm, and a sender RDMA-writes frames
// held in dma-bufs (udmabufs, GPU memory) into it. frames.test.ts tests it on
// the emulator, and unchanged on a real kernel. In your own project, import
// from 'dmabridge' instead of '../../src'.
import { decodeRemoteBuffer, encodeRemoteBuffer } from '../../src';
import type { DmaBridge, DmaBuf, RdmaAddress, RdmaConnection, RemoteBuffer, WaitOptions } from '../../src';

/** The receiving side: one sender, one frame buffer (a udmabuf) it writes into. */
export class FrameReceiver {
  private constructor(private readonly conn: RdmaConnection, readonly frame: DmaBuf) {}

  /** Listens at `at` and accepts the first sender, offering it `size` bytes. */
  static async accept(dmb: DmaBridge, at: RdmaAddress, size: number, options: WaitOptions = {}): Promise<FrameReceiver> {
    using listener = dmb.listenRdma(at);
    using request = await listener.next(options);
    const frame = dmb.createUdmabuf(size);
    try {
      const pd = request.device.allocPd();
      // rxe cannot register dma-bufs: the udmabuf's memfd pages are the same memory.
      const mr = pd.registerDmaBuf(frame, { fallback: 'memfd-pages', access: ['local-write', 'remote-write'] });
      const conn = await request.accept({ pd, privateData: encodeRemoteBuffer(mr.remote()), ...options });
      return new FrameReceiver(conn, frame);
    } catch (e) {
      frame.close();
      throw e;
    }
  }

  /** The frame's bytes as they are now. */
  bytes(): Uint8Array {
    using map = this.frame.map('read');
    using _ = map.begin('read');
    return map.view.slice();
  }

  /** Resolves when the sender is gone (it disconnected, closed, or died). */
  async senderGone(options: WaitOptions = {}): Promise<void> {
    await this.conn.disconnected(options);
  }

  close(): void {
    this.conn.close();
    this.frame.close();
  }
}

/** The sending side of one connection. */
export class FrameSender {
  #id = 0n;

  private constructor(private readonly conn: RdmaConnection, private readonly target: RemoteBuffer) {}

  /** Connects to the receiver at `to`; `retryCount` bounds how long a send tries a peer that is gone (0-7; 7 is for ever on rxe). */
  static async connect(dmb: DmaBridge, to: RdmaAddress, options: WaitOptions & { retryCount?: number } = {}): Promise<FrameSender> {
    const conn = await dmb.connectRdma(to, options);
    return new FrameSender(conn, decodeRemoteBuffer(conn.privateData));
  }

  /**
   * Writes `frame` (a dma-buf no larger than the receiver's buffer) with one
   * RDMA WRITE. It is registered for the write only; a refusal (ENODEV for
   * revoked memory, say) or a failed completion rejects, naming its status.
   */
  async send(frame: DmaBuf, options: WaitOptions = {}): Promise<void> {
    using mr = this.conn.pd.registerDmaBuf(frame, { fallback: 'memfd-pages' });
    const id = ++this.#id;
    this.conn.qp.postSend([{ opcode: 'write', local: { mr }, remote: this.target, id }]);
    const wc = await this.conn.cq.next(options);
    if (wc.status !== 'success') throw new Error(`frame ${id} was not written: ${wc.status}`, { cause: wc });
  }

  /** Resolves when the receiver is gone (it disconnected, closed, or died). */
  async receiverGone(options: WaitOptions = {}): Promise<void> {
    await this.conn.disconnected(options);
  }

  close(): void {
    this.conn.close();
  }
}
