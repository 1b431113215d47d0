// The two-host latency bench's ping-pong (scripts/bench/cluster.js runs it
// between two guests), here between two emulated hosts in one process: each
// side counts its one CQ's completions to know the peer's message is in, so a
// miscount would read a message early (a wrong sequence number) or hang.
// Busy-polling needs the two sides in two processes, as in the guests.
import { describe, expect, it } from 'vitest';
import { createEmulator, createNetwork } from '../../emulator';
import { CmPingPong } from '../../src/bench/cm-pingpong';
import { bridgeOn } from '../support/backends';

describe('the two-host SEND ping-pong over rdma_cm', () => {
  it('answers every ping in order, over several runs on one connection', async () => {
    const network = createNetwork();
    const a = bridgeOn(createEmulator({ network, host: { name: 'a', address: '10.99.0.1' } }), 'host a');
    const b = bridgeOn(createEmulator({ network, host: { name: 'b', address: '10.99.0.2' } }), 'host b');
    using listener = a.listenRdma({ host: '10.99.0.1', port: 0 });
    const served = (async () => {
      const request = await listener.next();
      const pong = new CmPingPong(request.device.allocPd());
      using conn = await request.accept(pong.options());
      pong.attach(conn);
      for (let run = 0; run < 3; run++) await pong.pong('await', 50);
      await conn.disconnected();
    })();
    using route = await b.resolveRdma({ host: '10.99.0.1', port: listener.address.port });
    const ping = new CmPingPong(route.device.allocPd());
    const conn = await route.connect(ping.options());
    ping.attach(conn);
    for (let run = 0; run < 3; run++) {
      const oneWay = await ping.ping('await', 50);
      expect(oneWay.length).toBe(50);
      expect(Math.min(...oneWay)).toBeGreaterThan(0);
    }
    conn.close();
    await served;
    a.close();
    b.close();
  });
});
