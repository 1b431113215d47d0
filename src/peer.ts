import { invalidType, invalidValue, toInt } from './args';
import type { Credentials } from '../seam/backend';
import { systemError } from '../seam/system-error';

/** Who is at the other end of a Unix socket: its process when the connection was made (SO_PEERCRED). */
export type PeerCredentials = Credentials;

/**
 * Which peers a socket accepts: any whose uid is in `uids` or whose gid is
 * in `gids`, or those a predicate returns true for.
 */
export type PeerAllow = { uids?: number[]; gids?: number[] } | ((peer: PeerCredentials) => boolean);

const ID_MAX = 0xfffffffe;

/** The check `allow` describes, or undefined where every peer is accepted. */
export function peerFilter(allow: unknown, name: string): ((peer: PeerCredentials) => boolean) | undefined {
  if (allow === undefined) return undefined;
  if (typeof allow === 'function') {
    return (peer) => (allow as (p: PeerCredentials) => unknown)({ ...peer }) === true;
  }
  if (typeof allow !== 'object' || allow === null || Array.isArray(allow)) {
    throw invalidType(name, 'an object { uids, gids } or a function', allow);
  }
  const { uids, gids } = allow as { uids?: unknown; gids?: unknown };
  const uidSet = idList(uids, `${name}.uids`);
  const gidSet = idList(gids, `${name}.gids`);
  if (!uidSet && !gidSet) throw invalidValue(name, allow, 'must list uids or gids');
  return (peer) => uidSet?.has(peer.uid) === true || gidSet?.has(peer.gid) === true;
}

function idList(value: unknown, name: string): Set<number> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalidType(name, 'an array of uids or gids', value);
  return new Set(value.map((id, i) => toInt(id, `${name}[${i}]`, 0, ID_MAX)));
}

/** The error for a peer that `allow` refused. */
export function peerRefused(what: string, peer: PeerCredentials): Error {
  return systemError('EPERM', 'connect',
    `connect failed: EPERM (${what} is pid ${peer.pid}, uid ${peer.uid}, gid ${peer.gid}, which options.allow does not accept)`);
}
