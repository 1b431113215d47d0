import { systemError } from './system-error';

// Every object that holds something of the kernel's derives from Resource:
// close() releases it once, closes the children first (mappings before their
// dma-buf, everything before the system), and cancels pending waits before
// the fd goes away. A finalizer releases what a program forgot to close.

const finalizer = new FinalizationRegistry<() => void>((release) => {
  try {
    release();
  } catch {
    // A safety net must never throw into the GC.
  }
});

export abstract class Resource implements Disposable {
  #closed = false;
  readonly #children = new Set<WeakRef<Resource>>();
  /** Resources made elsewhere that use this one and must close before it. */
  readonly #dependents = new Set<WeakRef<Resource>>();
  readonly #cancels = new Set<(reason: Error) => void>();
  #parent: Resource | undefined;
  #self: WeakRef<Resource> | undefined;

  protected constructor(parent?: Resource) {
    if (parent) {
      parent.assertOpen();
      this.#parent = parent;
      this.#self = new WeakRef(this);
      parent.#children.add(this.#self);
    }
  }

  /** Registers the release of what this object holds, for when it is collected unclosed. */
  protected guard(release: () => void): void {
    finalizer.register(this, release, this);
  }

  /** The resource this one was made under (a mapping's buffer, a buffer's system). */
  protected get parent(): Resource | undefined {
    return this.#parent;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    // Marked first, so a close that comes back here (an MR releasing the
    // mapping that is closing it) returns at once.
    this.#closed = true;
    for (const ref of [...this.#dependents, ...[...this.#children].reverse()]) ref.deref()?.close();
    const cancelled = systemError('ECANCELED', 'close', `${this.constructor.name} was closed while a wait was pending`);
    for (const cancel of [...this.#cancels]) cancel(cancelled);
    finalizer.unregister(this);
    if (this.#parent && this.#self) this.#parent.#children.delete(this.#self);
    for (const forget of this.#onRelease) forget();
    this.release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  protected abstract release(): void;

  /** @internal Throws EBADF once closed. */
  assertOpen(): void {
    if (this.#closed) {
      throw systemError('EBADF', 'close', `${this.constructor.name} is closed: it can no longer be used`);
    }
  }

  /**
   * Makes `dependent` close before this does, though it belongs to another
   * parent: an MR over a mapping's memory, a QP that uses a CQ.
   */
  closeWith(dependent: Resource): void {
    this.assertOpen();
    const ref = new WeakRef(dependent);
    this.#dependents.add(ref);
    dependent.#onRelease.push(() => this.#dependents.delete(ref));
  }

  readonly #onRelease: Array<() => void> = [];

  /** Lets close() cancel a pending operation; returns the unregistration. */
  protected onClose(cancel: (reason: Error) => void): () => void {
    this.#cancels.add(cancel);
    return () => this.#cancels.delete(cancel);
  }
}
