/// <reference lib="es2024.arraybuffer" />
// Virtual addresses for JavaScript memory. ibv_reg_mr gives an MR the address
// of its memory, and work requests name memory by address and key: each
// ArrayBuffer the process registers gets a stable, page-aligned place of its
// own, and a view's address is that place plus its byteOffset.
import { PAGE_SIZE } from '../../seam/uapi';

/** Where the first buffer goes: where the kernel starts mmap's search on x86-64. */
const BASE = 0x7f00_0000_0000n;
/** An unmapped gap after each buffer, so that no range runs from one into the next. */
const GAP = 2n << 20n;

export class AddressSpace {
  readonly #places = new WeakMap<ArrayBufferLike, bigint>();
  #next = BASE;

  addressOf(view: Uint8Array): bigint {
    const buffer = view.buffer;
    let base = this.#places.get(buffer);
    if (base === undefined) {
      base = this.#next;
      this.#places.set(buffer, base);
      // A resizable buffer (a memfd's pages) keeps room to grow.
      const span = BigInt(buffer instanceof ArrayBuffer ? buffer.maxByteLength : buffer.byteLength);
      this.#next = base + pageAlign(span) + GAP;
    }
    return base + BigInt(view.byteOffset);
  }
}

function pageAlign(n: bigint): bigint {
  const page = BigInt(PAGE_SIZE);
  return ((n + page - 1n) / page) * page;
}
