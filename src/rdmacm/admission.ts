// Who may connect to a listener, and how much its connections may cost:
// checked for each request before the user sees it; a request past a limit
// is rejected with the reason in its private data.
import { BlockList, isIP } from 'node:net';
import type { RdmaAddress } from '../../seam/backend-rdmacm';
import { invalidType, invalidValue, toInt, toSize } from '../args';
import { PinBudget } from '../verbs/pin-budget';

/** What a listener's `allow` predicate sees of a request. */
export interface RequestInfo {
  readonly remote: RdmaAddress;
  readonly local: RdmaAddress;
  /** The peer's private data (zero-padded to 56 bytes on IB and RoCE). */
  readonly privateData: Uint8Array;
}

export interface RdmaListenOptions {
  /** Requests the kernel queues before next() takes them. Default 16. */
  backlog?: number;
  /**
   * Who may connect: peer addresses or subnets ('10.0.0.7', '10.0.0.0/24',
   * 'fd00::/64'), or a predicate over the request (sync or async). Default:
   * any peer that reaches the address.
   */
  allow?: readonly string[] | ((request: RequestInfo) => boolean | Promise<boolean>);
  /** Connections open at once, counting requests handed out and not yet answered. Default: no cap. */
  maxConnections?: number;
  /** Bytes registered in all the connections' own PDs together. Default: no cap (RLIMIT_MEMLOCK still holds). */
  maxPinnedBytes?: number | bigint;
}

/** Why a request was refused, as the peer reads it in the reject's private data. */
export type Refusal = 'not-allowed' | 'connection-limit' | 'pinned-memory-limit';
const REFUSALS: readonly Refusal[] = ['not-allowed', 'connection-limit', 'pinned-memory-limit'];
const PREFIX = 'dmabridge refused: ';

export function refusalData(reason: Refusal): Uint8Array {
  return new TextEncoder().encode(PREFIX + reason);
}

/** The reason in a reject's private data, where a dmabridge listener gave one. */
export function refusalOf(privateData: Uint8Array | undefined): Refusal | undefined {
  if (!privateData) return undefined;
  const end = privateData.indexOf(0);
  const text = new TextDecoder().decode(end < 0 ? privateData : privateData.subarray(0, end));
  const reason = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : '';
  return REFUSALS.find((r) => r === reason);
}

/** A place among the connections: released once, when its request or connection is done. */
export interface Slot {
  release(): void;
}

export class Admission {
  readonly budget: PinBudget | undefined;
  readonly #allow: ((request: RequestInfo) => boolean | Promise<boolean>) | undefined;
  readonly #max: number;
  #open = 0;

  constructor(o: RdmaListenOptions) {
    this.#allow = allowPredicate(o.allow);
    this.#max = o.maxConnections === undefined ? Infinity : toInt(o.maxConnections, 'options.maxConnections', 1, 0x7fffffff);
    this.budget = o.maxPinnedBytes === undefined ? undefined : new PinBudget(toSize(o.maxPinnedBytes, 'options.maxPinnedBytes'));
  }

  /** The connections (and unanswered requests) holding a place now. */
  get open(): number {
    return this.#open;
  }

  /** A place for `request`, or why not. Limits are checked first: they cost nothing to ask. */
  async admit(request: RequestInfo): Promise<Slot | Refusal> {
    if (this.#open >= this.#max) return 'connection-limit';
    if (this.budget?.exhausted) return 'pinned-memory-limit';
    if (this.#allow && !(await this.#allow(request))) return 'not-allowed';
    // Counted after the wait: others may have come in meanwhile.
    if (this.#open >= this.#max) return 'connection-limit';
    this.#open++;
    let held = true;
    return {
      release: () => {
        if (held) this.#open--;
        held = false;
      },
    };
  }
}

function allowPredicate(allow: RdmaListenOptions['allow']): ((request: RequestInfo) => boolean | Promise<boolean>) | undefined {
  if (allow === undefined || typeof allow === 'function') return allow;
  if (!Array.isArray(allow)) throw invalidType('options.allow', 'an array of addresses or subnets, or a function', allow);
  const list = new BlockList();
  for (const entry of allow as readonly unknown[]) {
    if (typeof entry !== 'string') throw invalidType('options.allow[]', 'a string', entry);
    const [host, bits, extra] = entry.split('/');
    const family = isIP(host!);
    const prefix = bits === undefined ? undefined : Number(bits);
    const max = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= max && bits !== ''))) {
      throw invalidValue('options.allow', entry, "holds an entry that is not a numeric address or subnet ('10.0.0.7', '10.0.0.0/24', 'fd00::/64')");
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(host!, type);
    else list.addSubnet(host!, prefix, type);
  }
  return ({ remote }) => {
    const family = isIP(remote.host);
    return family !== 0 && list.check(remote.host, family === 6 ? 'ipv6' : 'ipv4');
  };
}
