import { systemError } from '../seam/system-error';

// Every object that holds something of the kernel's derives from Resource:
// close() releases it once, closes the children first (mappings before their
// dma-buf, everything before the system), and cancels pending waits before
// the fd goes away. A finalizer releases what a program forgot to close.
//
// Parents hold their children weakly, so a forgotten child can be collected
// while its parent lives. What releasing a resource takes is kept in a Held
// record that reaches the resource only through a WeakRef: a parent that closes,
// or is collected, after a child was collected but before the child's
// finalizer ran still releases the child first (the kernel would refuse a
// PD whose MRs are registered). A resource that uses another (a QP its CQ,
// an MR its mapping) holds it strongly, so nothing in use is collected.

// Most resources (an MR, a mapping) never get children or users, so those
// sets are made on first use, and a record names the sets it is in rather
// than keeping closures that remove it: registering and closing one
// allocates little.
interface Held {
  /** Release steps from guard(); emptied once they ran or close() released. */
  releases: Array<() => void>;
  /** The resource, for a parent or a user that must close it first. */
  ref?: WeakRef<Resource>;
  children?: Set<Held>;
  /** Resources made elsewhere that use this one and must go before it. */
  dependents?: Set<Held>;
  /** The parent's children, which hold this record. */
  siblings?: Set<Held>;
  /** The dependents of each resource this one uses, which hold this record. */
  uses?: Array<Set<Held>>;
}

/** What must close before `held`'s own release: its users, then its children, newest first. */
function before(held: Held): Held[] {
  const users = held.dependents ? [...held.dependents] : [];
  return held.children ? [...users, ...[...held.children].reverse()] : users;
}

/** Removes `held` from its parent's and its users' sets. */
function unlink(held: Held): void {
  held.siblings?.delete(held);
  held.siblings = undefined;
  if (held.uses) for (const set of held.uses) set.delete(held);
  held.uses = undefined;
}

/** Releases a collected resource: its users and children first, then itself. */
function drain(held: Held): void {
  for (const child of before(held)) drain(child);
  const steps = held.releases.splice(0);
  for (const step of steps) {
    try {
      step();
    } catch {
      // A safety net must never throw into the GC.
    }
  }
  unlink(held);
}

const finalizer = new FinalizationRegistry<Held>(drain);

export abstract class Resource implements Disposable {
  #closed = false;
  readonly #held: Held = { releases: [] };
  #cancels: Set<(reason: Error) => void> | undefined;
  #parent: Resource | undefined;

  protected constructor(parent?: Resource) {
    if (parent) {
      parent.assertOpen();
      this.#parent = parent;
      const held = this.#held;
      held.ref = new WeakRef<Resource>(this);
      held.siblings = parent.#held.children ??= new Set();
      held.siblings.add(held);
    }
    // No unregister token: close() empties the record instead, which leaves
    // the finalizer nothing to do, and costs less than unregistering.
    finalizer.register(this, this.#held);
  }

  /**
   * Adds a step that releases what this object holds, run if it is collected
   * unclosed. The step must not reference the object.
   */
  protected guard(release: () => void): void {
    this.#held.releases.push(release);
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
    const held = this.#held;
    if (held.children?.size || held.dependents?.size) {
      for (const h of before(held)) {
        const live = h.ref?.deref();
        if (live) live.close();
        else drain(h);
      }
    }
    if (this.#cancels?.size) {
      // Made only when needed: an Error captures a stack, which costs more than the rest of close().
      const cancelled = systemError('ECANCELED', 'close', `${this.constructor.name} was closed while a wait was pending`);
      for (const cancel of [...this.#cancels]) cancel(cancelled);
    }
    held.releases.length = 0;
    unlink(held);
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
   * parent: an MR over a mapping's memory, a QP that uses a CQ. The
   * dependent must hold this resource strongly.
   */
  closeWith(dependent: Resource): void {
    this.assertOpen();
    const held = dependent.#held;
    held.ref ??= new WeakRef<Resource>(dependent);
    const users = (this.#held.dependents ??= new Set());
    users.add(held);
    (held.uses ??= []).push(users);
  }

  /** Lets close() cancel a pending operation; returns the unregistration. */
  protected onClose(cancel: (reason: Error) => void): () => void {
    const cancels = (this.#cancels ??= new Set());
    cancels.add(cancel);
    return () => cancels.delete(cancel);
  }
}
