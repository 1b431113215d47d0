// On-demand paging (ib_umem_odp and mlx5's odp.c, seeds 002 and 004): an MR
// over process memory that pins nothing. The device's page table mirrors the
// process's page by page: a page faults in on first access
// (hmm_range_fault), and when the process's mapping of it changes the mmu
// interval notifier invalidates it and bumps the interval's sequence number.
// A fault reads the sequence before it looks at the pages and retries where
// an invalidation ran meanwhile (mmu_interval_read_retry) — anywhere in the
// MR's range, since the notifier covers the whole MR. Counters are in pages,
// as mlx5's page_faults, page_invalidations and page_prefetch are.
import { PAGE_SIZE } from '../../seam/uapi';

export interface OdpState {
  /** Pages the MR spans. */
  pages: number;
  /** Pages the device's page table holds now. */
  present: number;
  faults: number;
  invalidations: number;
  prefetched: number;
  /** Faults that found the sequence changed under them and ran again. */
  retries: number;
  /** The interval notifier's sequence number. */
  seq: number;
}

/** The process's address space over one JS buffer, as far as mirrors see it. */
class MmRange {
  readonly mirrors = new Set<OdpMirror>();
  /** Page indexes (within the buffer) with no mapping: a fault there fails. */
  readonly unmapped = new Set<number>();
  /** An invalidation to land while the next fault is in flight (a test's race). */
  race: [number, number] | undefined;
}

const mms = new WeakMap<ArrayBufferLike, MmRange>();

function mmOf(buffer: ArrayBufferLike): MmRange {
  let mm = mms.get(buffer);
  if (!mm) mms.set(buffer, (mm = new MmRange()));
  return mm;
}

/** The pages [first, end) of its buffer that a view covers. */
function pagesOf(view: Uint8Array): [number, number] {
  return [Math.floor(view.byteOffset / PAGE_SIZE), Math.ceil((view.byteOffset + view.byteLength) / PAGE_SIZE)];
}

function invalidate(mm: MmRange, [first, end]: [number, number]): void {
  for (const mirror of mm.mirrors) mirror.invalidate(first, end);
}

/** What a test does to the process's memory under ODP MRs (controls(backend).mm). */
export interface MmControls {
  /** The pages stay but move (migration, reclaim and swap-in): mirrors drop them and fault them again. */
  invalidate(view: Uint8Array): void;
  /** munmap: mirrors drop the pages, and a fault there fails until they are mapped again. */
  unmap(view: Uint8Array): void;
  /** mmap over the range again: fresh zeroed pages, which mirrors fault in anew. */
  remap(view: Uint8Array): void;
  /** An invalidation of `view` lands while the next fault on its buffer is in flight. */
  raceNextFault(view: Uint8Array): void;
}

export const mmControls: MmControls = {
  invalidate(view) {
    invalidate(mmOf(view.buffer), pagesOf(view));
  },
  unmap(view) {
    const mm = mmOf(view.buffer);
    const [first, end] = pagesOf(view);
    invalidate(mm, [first, end]);
    for (let p = first; p < end; p++) mm.unmapped.add(p);
  },
  remap(view) {
    const mm = mmOf(view.buffer);
    const [first, end] = pagesOf(view);
    invalidate(mm, [first, end]);
    for (let p = first; p < end; p++) mm.unmapped.delete(p);
    view.fill(0);
  },
  raceNextFault(view) {
    mmOf(view.buffer).race = pagesOf(view);
  },
};

export class OdpMirror {
  readonly #mm: MmRange;
  /** The buffer page the MR's first page is. */
  readonly #first: number;
  readonly #present: Uint8Array;
  readonly #state: Omit<OdpState, 'pages' | 'present'> = { faults: 0, invalidations: 0, prefetched: 0, retries: 0, seq: 0 };

  constructor(private readonly view: Uint8Array) {
    this.#mm = mmOf(view.buffer);
    const [first, end] = pagesOf(view);
    this.#first = first;
    this.#present = new Uint8Array(end - first);
    this.#mm.mirrors.add(this);
  }

  /**
   * Makes the pages under [offset, offset + length) of the MR present, as a
   * device page fault (or a prefetch) does; false, leaving them absent, where
   * one of them is not mapped in the process.
   */
  fault(offset: number, length: number, prefetch = false): boolean {
    const start = this.view.byteOffset + offset;
    const first = Math.floor(start / PAGE_SIZE) - this.#first;
    const end = Math.ceil((start + length) / PAGE_SIZE) - this.#first;
    for (;;) {
      const seq = this.#state.seq;
      const missing: number[] = [];
      for (let p = first; p < end; p++) {
        if (this.#present[p]) continue;
        if (this.#mm.unmapped.has(p + this.#first)) return false;
        missing.push(p);
      }
      if (missing.length === 0) return true;
      // hmm_range_fault found the pages; an invalidation may land before the device's table is updated.
      const race = this.#mm.race;
      this.#mm.race = undefined;
      if (race) invalidate(this.#mm, race);
      if (this.#state.seq !== seq) {
        this.#state.retries++;
        continue;
      }
      for (const p of missing) this.#present[p] = 1;
      if (prefetch) this.#state.prefetched += missing.length;
      else this.#state.faults += missing.length;
      return true;
    }
  }

  /** The notifier's invalidate for buffer pages [first, end). */
  invalidate(first: number, end: number): void {
    const from = Math.max(first - this.#first, 0);
    const to = Math.min(end - this.#first, this.#present.length);
    if (from >= to) return;
    this.#state.seq++;
    for (let p = from; p < to; p++) {
      if (!this.#present[p]) continue;
      this.#present[p] = 0;
      this.#state.invalidations++;
    }
  }

  state(): OdpState {
    return { pages: this.#present.length, present: this.#present.reduce((n, p) => n + p, 0), ...this.#state };
  }

  release(): void {
    this.#mm.mirrors.delete(this);
  }
}
