// frames.ts's tests. On a laptop open() picks the emulator, and the file puts
// the receiver and the sender on two emulated machines of one network, with
// a manual clock; on a lab machine (or `npm run test:kernel`) open() picks the
// kernel, both ends run in this process over rxe1 at 10.99.0.1, and only the
// first test runs: the others need the emulator's controls (dmabridge/emulator
// in your project) to revoke GPU memory, pull a cable and kill a process.
import { afterEach, describe, expect, it } from 'vitest';
import { controls, createEmulator, createNetwork, type EmulatorControls } from '../../emulator';
import { open, type DmaBridge, type DmaBuf } from '../../src';
import { FrameReceiver, FrameSender } from './frames';

const RECEIVER = '10.99.0.1';
const SIZE = 64 << 10;
const emulated = (() => {
  using probe = open();
  return probe.backend === 'emulator';
})();

let port = 7600;
let opened: DmaBridge[] = [];
afterEach(() => {
  for (const dmb of opened) dmb.close();
  opened = [];
});

/** The receiver's and the sender's DmaBridge: two emulated machines on one network, or this kernel twice. */
function hosts(): { receiver: DmaBridge; sender: DmaBridge } {
  if (!emulated) {
    opened = [open(), open()];
  } else {
    const network = createNetwork({ manualClock: true });
    opened = [
      open({ backend: createEmulator({ network, host: { name: 'receiver', address: RECEIVER, nic: 'mlx5' } }) }),
      open({ backend: createEmulator({ network, host: { name: 'sender', address: '10.99.0.2', nic: 'mlx5' } }) }),
    ];
  }
  return { receiver: opened[0]!, sender: opened[1]! };
}

function pattern(seed: number): Uint8Array {
  return Uint8Array.from({ length: SIZE }, (_, i) => (i * 13 + seed) & 0xff);
}

function udmabufFrame(dmb: DmaBridge, seed: number): DmaBuf {
  const frame = dmb.createUdmabuf(SIZE);
  using map = frame.map('rw');
  using _ = map.begin('write');
  map.view.set(pattern(seed));
  return frame;
}

/** A receiver at a fresh port and a sender connected to it. */
async function link(receiverDmb: DmaBridge, sender: DmaBridge, retryCount?: number): Promise<[FrameReceiver, FrameSender]> {
  const at = { host: RECEIVER, port: ++port };
  const accepting = FrameReceiver.accept(receiverDmb, at, SIZE, { timeout: 10_000 });
  const sending = FrameSender.connect(sender, at, { timeout: 10_000, retryCount });
  return Promise.all([accepting, sending]);
}

/** Moves the emulated clock on by `ms` at a time, letting the event loop run between steps, until `settled` is. */
async function advanceUntil(hooks: EmulatorControls, settled: Promise<unknown>, ms: number): Promise<void> {
  let done = false;
  void settled.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 100 && !done; i++) {
    hooks.clock.advance(ms);
    await new Promise((r) => setImmediate(r));
  }
}

describe('frames', () => {
  it("sends a frame into the receiver's dma-buf", async () => {
    const { receiver, sender } = hosts();
    const [rx, tx] = await link(receiver, sender);
    using frame = udmabufFrame(sender, 1);
    await tx.send(frame, { timeout: 10_000 });
    expect(rx.bytes()).toEqual(pattern(1));
    tx.close();
    await rx.senderGone({ timeout: 10_000 });
    rx.close();
    // rdma_cm and rxe on a real kernel under the test VM's emulated CPU take their time.
  }, 90_000);

  if (!emulated) return;

  it('a receiver that never answers: connecting fails with ETIMEDOUT once the emulated clock passes the timeout', async () => {
    const { sender } = hosts();
    const connecting = FrameSender.connect(sender, { host: '10.99.0.9', port: 7599 }, { timeout: 5000 });
    await advanceUntil(controls(sender), connecting, 1000);
    await expect(connecting).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('GPU memory the exporter revokes: that send fails with ENODEV, and the next frame still goes through', async () => {
    const { receiver, sender } = hosts();
    const [rx, tx] = await link(receiver, sender);
    const gpu = controls(sender).vram('hl0').export(sender, SIZE);
    gpu.write(0, pattern(2));
    using gpuFrame = sender.importDmaBuf(gpu.fd, { adopt: true });
    await tx.send(gpuFrame, { timeout: 1000 });
    expect(rx.bytes()).toEqual(pattern(2));
    gpu.revoke();
    await expect(tx.send(gpuFrame, { timeout: 1000 })).rejects.toMatchObject({ code: 'ENODEV' });
    using frame = udmabufFrame(sender, 3);
    await tx.send(frame, { timeout: 1000 });
    expect(rx.bytes()).toEqual(pattern(3));
  });

  it("an unplugged cable: the send fails with retry-exceeded-error once the retries' time has passed", async () => {
    const { receiver, sender } = hosts();
    const [rx, tx] = await link(receiver, sender, 2);
    controls(sender).network.unplug('sender');
    using frame = udmabufFrame(sender, 4);
    const sending = tx.send(frame, { timeout: 10_000 });
    await advanceUntil(controls(sender), sending, 100);
    await expect(sending).rejects.toThrow(/retry-exceeded-error/);
    rx.close();
  });

  it('a killed receiver: the sender hears it is gone, its next send fails, and no frame stays open after', async () => {
    const { receiver, sender } = hosts();
    const hooks = controls(receiver);
    // The receiver runs in a process of its own on its machine, which the test kills.
    const doomed = open({ backend: hooks.spawn() });
    const [, tx] = await link(doomed, sender);
    hooks.kill(doomed);
    await tx.receiverGone({ timeout: 10_000 });
    const frame = udmabufFrame(sender, 5);
    await expect(tx.send(frame, { timeout: 1000 })).rejects.toThrow(/wr-flush-error/);
    tx.close();
    frame.close();
    const buffers = (p: DmaBridge) => controls(p).openFds(p).filter((f) => /^\/dmabuf:|memfd:/.test(f.target));
    expect(buffers(sender)).toEqual([]);
    expect(buffers(doomed)).toEqual([]);
  });
});
