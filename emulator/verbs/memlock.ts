// RLIMIT_MEMLOCK and the process's pinned page count (mm->pinned_vm), which
// ib_umem_get charges. The emulated process is an ordinary user's: it has
// neither CAP_IPC_LOCK (to pin past the limit) nor CAP_SYS_RESOURCE (to raise
// the hard limit).
import { systemError } from '../../seam/system-error';
import { PAGE_SIZE } from '../../seam/uapi';

export const RLIM_INFINITY = 2n ** 64n - 1n;
/** What `ulimit -l` said in the Debian guest: 8192 KiB, soft and hard. */
const DEFAULT_LIMIT = 8n << 20n;

export class Memlock {
  #soft = DEFAULT_LIMIT;
  #hard = DEFAULT_LIMIT;
  #pinnedPages = 0n;

  /** getrlimit(RLIMIT_MEMLOCK). */
  get(): { soft: bigint; hard: bigint } {
    return { soft: this.#soft, hard: this.#hard };
  }

  /** setrlimit(RLIMIT_MEMLOCK), as do_prlimit checks it. */
  set(soft: bigint, hard: bigint): void {
    for (const [name, value] of [['soft', soft], ['hard', hard]] as const) {
      if (typeof value !== 'bigint' || value < 0n || value > RLIM_INFINITY) {
        throw new TypeError(`${name} must be a bigint from 0 to 2n**64n-1n`);
      }
    }
    if (soft > hard) throw systemError('EINVAL', 'setrlimit');
    if (hard > this.#hard) throw systemError('EPERM', 'setrlimit');
    this.#soft = soft;
    this.#hard = hard;
  }

  /** can_do_mlock(): a limit of 0 forbids pinning at all. */
  get canPin(): boolean {
    return this.#soft !== 0n;
  }

  /** Charges `pages` to pinned_vm; false, charging nothing, past the soft limit. */
  pin(pages: bigint): boolean {
    if (this.#pinnedPages + pages > this.#soft / BigInt(PAGE_SIZE)) return false;
    this.#pinnedPages += pages;
    return true;
  }

  /** pinned_vm in bytes: what /proc/self/status shows as VmPin. */
  get pinnedBytes(): number {
    return Number(this.#pinnedPages) * PAGE_SIZE;
  }

  unpin(pages: bigint): void {
    this.#pinnedPages -= pages;
  }
}
