// One run of one scenario on one backend: the calls it makes, each recorded
// as a step, and the clean-up after it (every fd, mapping and RDMA object the
// scenario made and did not release itself).
import { setTimeout as sleep } from 'node:timers/promises';
import { controls } from '../emulator';
import type { Backend } from '../seam/backend';
import { normalise, outcomeOf, type ScenarioRecord } from './record';

/** Thrown to end a scenario whose set-up step failed; the failure is already recorded. */
export class Abort extends Error {}

export class Trial {
  readonly record: ScenarioRecord = [];
  /** Clean-up actions, run last-first. */
  readonly #undo: Array<{ key: unknown; run: () => void }> = [];

  constructor(readonly k: Backend) {}

  get emulated(): boolean {
    return this.k.name === 'emulator';
  }

  /**
   * Makes a call and records its outcome: the value, shown by `show` (default:
   * normalised as is), or the error's code and syscall. Returns the value, or
   * undefined when the call failed.
   */
  step<T>(label: string, call: (k: Backend) => T, show: (value: T) => unknown = (v) => v): T | undefined {
    let value: T;
    try {
      value = call(this.k);
    } catch (e) {
      this.record.push({ step: label, ...outcomeOf(e) });
      return undefined;
    }
    this.record.push({ step: label, ok: normalise(show(value)) });
    return value;
  }

  /** As step, but a failure ends the scenario. */
  must<T>(label: string, call: (k: Backend) => T, show?: (value: T) => unknown): T {
    const value = this.step(label, call, show);
    if (!('ok' in this.record.at(-1)!)) throw new Abort(label);
    return value as T;
  }

  /** Records an observation the scenario derived (a relation, a comparison). */
  note(label: string, value: unknown): void {
    this.record.push({ step: label, ok: normalise(value) });
  }

  /** A call that returns a new fd: recorded as "fd" (the number differs between runs), closed after the scenario. */
  tryFd(label: string, call: (k: Backend) => number): number | undefined {
    const fd = this.step(label, call, () => 'fd');
    if (fd !== undefined) this.#onCleanup(`fd ${fd}`, () => this.k.close(fd));
    return fd;
  }

  /** As tryFd, but a failure ends the scenario. */
  fd(label: string, call: (k: Backend) => number): number {
    const fd = this.tryFd(label, call);
    if (fd === undefined) throw new Abort(label);
    return fd;
  }

  /** Closes an fd the scenario made, as a step. */
  close(label: string, fd: number): void {
    this.#forget(`fd ${fd}`);
    this.step(label, (k) => k.close(fd));
  }

  /** A mapping, unmapped after the scenario; a failure ends the scenario. */
  map(label: string, fd: number, length: number, prot: number, flags: number, offset = 0n): Uint8Array {
    const view = this.must(label, (k) => k.mmap(fd, length, prot, flags, offset), (v) => v.length);
    this.#onCleanup(view, () => this.k.munmap(view));
    return view;
  }

  unmap(label: string, view: Uint8Array): void {
    this.#forget(view);
    this.step(label, (k) => k.munmap(view));
  }

  /**
   * An object of `kind` (a handle, usually) made by `label`, released by
   * `release` after the scenario unless dropped first. Shown as "made" unless
   * `show` says more.
   */
  own<T>(kind: string, label: string, make: (k: Backend) => T, release: (value: T) => void, show: (value: T) => unknown = () => 'made'): T {
    const value = this.must(label, make, show);
    this.#onCleanup(`${kind} ${handleOf(value)}`, () => release(value));
    return value;
  }

  /** An object the scenario got without making it (the id a CONNECT_REQUEST brings), released after the scenario unless dropped. */
  adopt(kind: string, value: unknown, release: () => void): void {
    this.#onCleanup(`${kind} ${handleOf(value)}`, release);
  }

  /** The scenario released an object of `kind` itself. */
  drop(kind: string, value: unknown): void {
    this.#forget(`${kind} ${handleOf(value)}`);
  }

  /** Lets time pass: the emulator's clock skips ahead, the real kernel's is waited for. */
  async elapse(ms: number): Promise<void> {
    if (this.emulated) controls(this.k).clock.advance(ms);
    else await sleep(ms);
  }

  /** Undoes what the scenario left, last made first; failures here are not the scenario's. */
  cleanup(): void {
    for (const { run } of this.#undo.splice(0).reverse()) {
      try {
        run();
      } catch {
        // Already released by the scenario through a path the trial did not see.
      }
    }
  }

  #onCleanup(key: unknown, run: () => void): void {
    this.#undo.push({ key, run });
  }

  #forget(key: unknown): void {
    const i = this.#undo.findIndex((u) => u.key === key);
    if (i >= 0) this.#undo.splice(i, 1);
  }
}

/** What names an object: its `handle` where it has one (an MR, a QP), else itself. */
function handleOf(value: unknown): string {
  const handle = typeof value === 'object' && value !== null ? (value as { handle?: unknown }).handle : value;
  return String(handle);
}

