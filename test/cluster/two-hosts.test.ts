// Two real kernels: `npm run test:cluster` boots two guests joined by a link,
// with rxe on each one's NIC, and runs this file on both. Host A plays the
// servers, host B the clients; they meet over TCP on the same link.
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { open, type DmaBridge } from '../../src';
import { cases, type HostContext } from './cases';
import { connectRendezvous, listenRendezvous, scopedRendezvous, type Rendezvous } from './rendezvous';
import { expectedPing, runToEnd, stdoutLines, untilListening } from './processes';
import { describeNeeds } from '../support/skip';

const role = process.env.DMABRIDGE_CLUSTER_ROLE as 'a' | 'b' | undefined;
const self = process.env.DMABRIDGE_CLUSTER_SELF ?? '';
const peer = process.env.DMABRIDGE_CLUSTER_PEER ?? '';
const CONTROL_PORT = 7400;
const PINGS = 5;

/** SIGKILLs the child once it has printed `line`, and waits for it to go. */
async function kill(child: ChildProcess, out: ReturnType<typeof stdoutLines>, line: string): Promise<void> {
  await out.until(line);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

function vmPinBytes(): number {
  const m = /^VmPin:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

const side = role === 'a' ? 'server' : 'client';
const title = role ? `two hosts [host ${role}: ${side}s, ${self} with the peer at ${peer}]` : 'two hosts';
describeNeeds(role ? null : 'needs two kernels joined by a link; npm run test:cluster runs it')(title, () => {
  let meet: Rendezvous;
  let dmb: DmaBridge;
  beforeAll(async () => {
    meet = role === 'a' ? await listenRendezvous(self, CONTROL_PORT) : await connectRendezvous(peer, CONTROL_PORT, 180_000);
    dmb = open({ backend: 'native' });
  }, 200_000);
  afterAll(() => {
    dmb?.close();
    meet?.close();
  });

  // Each case meets under its own name, so one that fails midway leaves the next one's tags unclaimed.
  const ctx = (name: string): HostContext => ({
    dmb, self, peer, meet: scopedRendezvous(meet, name), pinned: vmPinBytes,
    async startDoomedServer(port) {
      const child = spawn(process.execPath, ['test/fixtures/cm-doomed-server.js', self, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const out = stdoutLines(child);
      await out.until('listening');
      return {
        vanish: () => kill(child, out, 'accepted'),
      };
    },
    startDoomedClient(port) {
      const child = spawn(process.execPath, ['test/fixtures/cm-doomed-client.js', peer, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const out = stdoutLines(child);
      return { vanish: () => kill(child, out, 'writing') };
    },
  });

  for (const c of cases) {
    it(`${side}: ${c.name}`, () => (role === 'a' ? c.server(ctx(c.name)) : c.client(ctx(c.name))), 120_000);
  }

  // rping's exchange with one side the real rping and the other examples/rping.ts, each checking the -v data line by line.
  const rping = ['rping'];
  const example = [process.execPath, 'dist/examples/rping.js'];
  const interop = (what: string, server: string[], client: string[], port: number) =>
    it(`${side}: interoperates with rdma-core's rping: ${what}`, async () => {
      const [cmd, ...pre] = role === 'a' ? server : client;
      const lines = (prefix: string) => Array.from({ length: PINGS }, (_, i) => `${prefix}${expectedPing(i, 64)}`);
      if (role === 'a') {
        const run = runToEnd(cmd!, [...pre, '-s', '-a', self, '-p', String(port), '-v']);
        await Promise.race([
          untilListening(self, port),
          run.then((r) => { throw new Error(`the server exited (${r.code}) before it listened: ${r.stderr}`); }),
        ]);
        await meet.sync(`server on ${port} is up`);
        const { code, stdout } = await run;
        expect(code).toBe(0);
        expect(stdout.trim().split('\n')).toEqual(lines('server ping data: '));
      } else {
        await meet.sync(`server on ${port} is up`);
        const args = [...pre, '-c', '-a', peer, '-p', String(port), '-C', String(PINGS), '-v', '-V'];
        const { code, stdout } = await runToEnd(cmd!, args);
        expect(code).toBe(0);
        expect(stdout.trim().split('\n')).toEqual(lines('ping data: '));
      }
      await meet.sync(`checked ${port}`);
    }, 120_000);
  interop(role === 'a' ? 'rping -s here, the dmabridge client there' : 'the dmabridge client here, rping -s there', rping, example, 7174);
  interop(role === 'a' ? 'the dmabridge server here, rping -c there' : 'rping -c here, the dmabridge server there', example, rping, 7175);
});
