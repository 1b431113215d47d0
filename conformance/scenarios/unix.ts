// Unix stream sockets: the socket file's mode and owner, who each end says
// its peer is (SO_PEERCRED), and what a peer sees when the other end closes.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, Credentials } from '../../seam/backend';
import { CLOSED_FD, memfd } from '../fixtures';
import { area } from '../scenario';
import type { Trial } from '../trial';

const { list, add } = area('unix');
export default list;

let paths = 0;

/** A fresh socket path in the temporary directory (the guest's own tmpfs in the VM), unlinked after the scenario. */
function socketPath(t: Trial): string {
  const path = join(tmpdir(), `dmabridge-conformance-${process.pid}-${paths++}.sock`);
  t.adopt('path', path, () => t.k.unlink(path));
  return path;
}

/** Credentials as a relation to this process's, since pids and uids differ between runs. */
function whose(t: Trial): (cred: Credentials) => unknown {
  const self = t.k.credentials();
  return (cred) => (cred.pid === self.pid && cred.uid === self.uid && cred.gid === self.gid ? 'self' : cred);
}

function fileOf(t: Trial): (st: ReturnType<Backend['lstat']>) => unknown {
  const self = t.k.credentials();
  return (st) => ({ mode: st.mode.toString(8), owner: st.uid === self.uid && st.gid === self.gid ? 'self' : `${st.uid}:${st.gid}` });
}

add('a listener\'s file has the mode asked, and is refused to a second bind', [], (t) => {
  const path = socketPath(t);
  const listener = t.fd('listen 0600', (k) => k.unixListen(path, 4, 0o600));
  t.step('lstat', (k) => k.lstat(path), fileOf(t));
  t.tryFd('listen again', (k) => k.unixListen(path, 4, 0o600));
  const wide = socketPath(t);
  t.fd('listen 0666', (k) => k.unixListen(wide, 4, 0o666));
  t.step('lstat 0666', (k) => k.lstat(wide), fileOf(t));
  t.step('lstat a missing path', (k) => k.lstat(`${path}.missing`));
  t.close('close the listener', listener);
  t.step('the file stays', (k) => k.lstat(path), fileOf(t));
});

add('SO_PEERCRED: the listener\'s own, the client learns the listener\'s, the server end the client\'s', [], (t) => {
  const path = socketPath(t);
  const listener = t.fd('listen', (k) => k.unixListen(path, 4, 0o600));
  t.step('listener', (k) => k.peerCred(listener), whose(t));
  const client = t.fd('connect', (k) => k.unixConnect(path));
  t.step('client', (k) => k.peerCred(client), whose(t));
  const server = t.fd('accept', (k) => k.unixAccept(listener));
  t.step('server end', (k) => k.peerCred(server), whose(t));
  const pair = t.must('socketpair', (k) => k.socketpair(), () => 'pair')!;
  for (const fd of pair) t.adopt('fd', fd, () => t.k.close(fd));
  t.step('a socketpair end', (k) => k.peerCred(pair[0]), whose(t));
  t.step('a memfd', (k) => k.peerCred(memfd(t, 1)));
  t.step('a closed fd', (k) => k.peerCred(CLOSED_FD));
});

add('a stale socket refuses connections until unlinked', [], (t) => {
  const path = socketPath(t);
  const listener = t.fd('listen', (k) => k.unixListen(path, 4, 0o600));
  t.close('close the listener', listener);
  t.tryFd('connect', (k) => k.unixConnect(path));
  t.step('unlink', (k) => k.unlink(path));
  t.tryFd('connect after unlink', (k) => k.unixConnect(path));
  t.fd('listen again', (k) => k.unixListen(path, 4, 0o600));
});

add('closing with data unread resets the peer once; closing after reading ends its stream', [], (t) => {
  const [a, b] = t.must('socketpair', (k) => k.socketpair(), () => 'pair')!;
  t.adopt('fd', a, () => t.k.close(a));
  t.step('send', (k) => k.sendFds(a, [], new Uint8Array([1])));
  t.step('close unread', (k) => k.close(b));
  t.step('recv', (k) => k.recvFds(a, 16), (m) => m.data.length);
  t.step('recv again', (k) => k.recvFds(a, 16), (m) => m.data.length);
  const [c, d] = t.must('socketpair', (k) => k.socketpair(), () => 'pair')!;
  t.adopt('fd', c, () => t.k.close(c));
  t.step('send', (k) => k.sendFds(c, [], new Uint8Array([1])));
  t.step('read it', (k) => k.recvFds(d, 16), (m) => m.data.length);
  t.step('close', (k) => k.close(d));
  t.step('recv', (k) => k.recvFds(c, 16), (m) => m.data.length);
  const path = socketPath(t);
  const listener = t.fd('listen', (k) => k.unixListen(path, 4, 0o600));
  const client = t.fd('connect', (k) => k.unixConnect(path));
  t.close('close the listener with the connection pending', listener);
  t.step('the pending client reads', (k) => k.recvFds(client, 16), (m) => m.data.length);
});
