// The ponger of the latency bench, in a process of its own (forked by
// latency.ts): it makes its side on the device it is told, hands back its
// endpoint, connects to the pinger's and answers each run of pings.
import type { DmaBridge } from '../dmabridge';
import { open } from '../open';
import { pingSide, type PingMode, type PingSide } from './pingpong';

type Command =
  | { setup: { backend: 'native' | 'emulator'; device: string; spin: number } }
  | { connect: PingSide }
  | { run: { mode: PingMode; first: number; iters: number } };

const send = (message: unknown) => process.send!(message);
let dmb: DmaBridge | undefined;
let state: ReturnType<typeof pingSide> | undefined;

process.on('message', (command: Command) => {
  void (async () => {
    if ('setup' in command) {
      dmb = open({ backend: command.setup.backend });
      state = pingSide(dmb, command.setup.device, command.setup.spin);
      send({ side: state.side.side() });
    } else if ('connect' in command) {
      state!.side.connect(command.connect);
      send({ connected: true });
    } else {
      const { mode, first, iters } = command.run;
      await state!.side.pong(mode, first, iters);
      send({ done: true });
    }
  })().catch((e: Error) => {
    send({ error: e.stack ?? e.message });
    process.exit(1);
  });
});
process.on('disconnect', () => {
  dmb?.close();
  process.exit(0);
});
