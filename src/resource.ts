import { systemError } from '../seam/system-error';

// Every object that holds something of the kernel's derives from Resource:
// close() releases it once, closes the children first (mappings before their
// dma-buf, everything before the system), and cancels pending waits before
// the fd goes away. A finalizer releases what a program forgot to close.
//
// A resource says how it is released once, in its constructor, as teardown
// steps that do not reference the object itself: close() and the finalizer
// run those same steps, so the two cannot drift. Steps run newest first, as
// destructors do (a subclass's before its base's), and each runs even when
// another failed: close() then reports every failure together.
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
//
// Most resources are also closed in the turn that made them, and for those the
// safety net is pure cost: a FinalizationRegistry entry keeps its object alive
// through V8's minor GCs (so every MR reached the old generation, and GC was
// half of register().close()), and a WeakRef keeps it alive until the job
// ends. So a resource is born *pending*: held strongly by a queue and not yet
// in its parent's children, and the queue is flushed once per turn of the
// event loop (setImmediate), giving the resources still open then their
// WeakRef, their place among the parent's children and their finalizer entry.
// A parent closing while it has pending children flushes first.
interface Held {
  /** Teardown steps, in the order they were added; emptied once they ran. */
  steps: Array<() => void>;
  /** The resource while it is pending, for a user that must close it first. */
  strong?: Resource;
  /** The resource once flushed, for a parent or a user that must close it first. */
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

/** Runs `held`'s steps once, newest first, each even when another failed; failures go to `failed`. */
function runSteps(held: Held, failed: unknown[]): void {
  const steps = held.steps.splice(0);
  for (let i = steps.length - 1; i >= 0; i--) attempt(steps[i]!, failed);
}

/** Runs `step`; what it throws goes to `failed` (an AggregateError's errors one by one). */
export function attempt(step: () => void, failed: unknown[]): void {
  try {
    step();
  } catch (e) {
    if (e instanceof AggregateError) failed.push(...(e.errors as unknown[]));
    else failed.push(e);
  }
}

/** Releases a resource nobody closed: its users and children first, then itself. */
function drain(held: Held, failed: unknown[]): void {
  for (const child of before(held)) drain(child, failed);
  runSteps(held, failed);
  unlink(held);
}

// A safety net must never throw into the GC: what fails here is dropped.
const finalizer = new FinalizationRegistry<Held>((held) => drain(held, []));

/** Resources born since the last flush; closed ones are skipped (or popped at once, when newest). */
let pending: Resource[] = [];
/** Past this many, closed entries are dropped from `pending`, so a loop that never yields stays bounded. */
let compactAt = 1024;
/** One flush per turn, however often `pending` empties within it (a made-and-closed resource is popped at once). */
let flushQueued = false;

function schedule(resource: Resource): void {
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(flushTurn);
  }
  if (pending.push(resource) >= compactAt) {
    pending = pending.filter((r) => !r.closed);
    compactAt = Math.max(1024, pending.length * 2);
  }
}

function flushTurn(): void {
  flushQueued = false;
  flush();
}

function flush(): void {
  const born = pending;
  pending = [];
  compactAt = 1024;
  for (const r of born) settle(r);
}

/** Throws what `failed` holds: one error as it is, several as one AggregateError. */
export function throwAll(failed: unknown[], what: string): void {
  if (failed.length === 0) return;
  if (failed.length === 1) throw failed[0];
  const first = failed[0] as { code?: unknown };
  const err = new AggregateError(failed, `${what}: ${failed.length} steps failed: ${failed.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`) as AggregateError & { code?: unknown };
  // Callers switch on `code`: the first failure's, the others are in `errors`.
  err.code = first?.code ?? 'ERR_CLOSE_FAILED';
  throw err;
}

// What subclasses and the other modules of src/ call on a resource. They are
// functions that the class makes in its static block, over its #private
// state, and are not re-exported from the package: a caller holding a
// resource reaches only its public API, so no garbage can corrupt its
// release (a method would be there for anyone listing the prototype).

/** Gives a resource still open its place among its parent's children and its safety net (the flush calls it). */
let settle: (resource: Resource) => void;

/**
 * Adds a step of `resource`'s release, run once by close() or, if it is
 * collected unclosed, by the finalizer. Steps run newest first. A step
 * must not reference the resource: state it needs lives in what it closes over.
 */
export let teardown: (resource: Resource, step: () => void) => void;

/** The resource `resource` was made under (a mapping's buffer, a buffer's system). */
export let parentOf: (resource: Resource) => Resource | undefined;

/** Throws EBADF once `resource` is closed. */
export let assertOpen: (resource: Resource) => void;

/**
 * Makes `dependent` close before `resource` does, though it belongs to
 * another parent: an MR over a mapping's memory, a QP that uses a CQ. The
 * dependent must hold `resource` strongly.
 */
export let closeWith: (resource: Resource, dependent: Resource) => void;

/** Lets `resource`'s close() cancel a pending operation; returns the unregistration. */
export let onClose: (resource: Resource, cancel: (reason: Error) => void) => () => void;

export abstract class Resource implements Disposable {
  #closed = false;
  /** Born since the last flush: not yet among the parent's children nor known to the finalizer. */
  #pending = true;
  /** Children still pending: close() must flush before it can close them. */
  #pendingChildren = 0;
  readonly #held: Held = { steps: [] };
  #cancels: Set<(reason: Error) => void> | undefined;
  #parent: Resource | undefined;

  protected constructor(parent?: Resource) {
    if (parent) {
      parent.#assertOpen();
      this.#parent = parent;
      parent.#pendingChildren++;
    }
    this.#held.strong = this;
    schedule(this);
  }

  #settle(): void {
    if (!this.#pending) return;
    this.#pending = false;
    if (this.#closed) return;
    const held = this.#held;
    held.strong = undefined;
    held.ref = new WeakRef<Resource>(this);
    const parent = this.#parent;
    if (parent) {
      parent.#pendingChildren--;
      held.siblings = parent.#held.children ??= new Set();
      held.siblings.add(held);
    }
    // No unregister token: close() empties the record instead, which leaves
    // the finalizer nothing to do, and costs less than unregistering.
    finalizer.register(this, held);
  }

  static {
    settle = (r) => r.#settle();
    teardown = (r, step) => {
      r.#held.steps.push(step);
    };
    parentOf = (r) => r.#parent;
    assertOpen = (r) => r.#assertOpen();
    closeWith = (r, dependent) => r.#closeWith(dependent);
    onClose = (r, cancel) => r.#onClose(cancel);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Releases this object: its users and children first, then its pending
   * waits (rejected with ECANCELED), then what it holds. Every part is
   * attempted even when one fails; the failures are thrown together
   * afterwards (one as it is, several as an AggregateError). Idempotent:
   * once called, the object is closed whatever failed.
   */
  close(): void {
    if (this.#closed) return;
    // Marked first, so a close that comes back here (an MR releasing the
    // mapping that is closing it) returns at once.
    this.#closed = true;
    if (this.#pending) this.#unpend();
    if (this.#pendingChildren > 0) flush();
    const held = this.#held;
    const failed: unknown[] = [];
    if (held.children?.size || held.dependents?.size) {
      for (const h of before(held)) {
        const live = h.strong ?? h.ref?.deref();
        if (live) attempt(() => live.close(), failed);
        else drain(h, failed);
      }
    }
    if (this.#cancels?.size) {
      // Made only when needed: an Error captures a stack, which costs more than the rest of close().
      const cancelled = systemError('ECANCELED', 'close', `${this.constructor.name} was closed while a wait was pending`);
      for (const cancel of [...this.#cancels]) attempt(() => cancel(cancelled), failed);
      this.#cancels.clear();
    }
    unlink(held);
    runSteps(held, failed);
    throwAll(failed, `closing ${this.constructor.name}`);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Closed while pending: it will never settle, so its parent stops waiting for it. */
  #unpend(): void {
    this.#pending = false;
    this.#held.strong = undefined;
    if (this.#parent) this.#parent.#pendingChildren--;
    // The common case, made and closed in a row: it is the newest entry.
    if (pending[pending.length - 1] === this) pending.pop();
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw systemError('EBADF', 'close', `${this.constructor.name} is closed: it can no longer be used`);
    }
  }

  #closeWith(dependent: Resource): void {
    this.#assertOpen();
    // A pending dependent is reached through held.strong until it settles and gets its WeakRef.
    const held = dependent.#held;
    const users = (this.#held.dependents ??= new Set());
    users.add(held);
    (held.uses ??= []).push(users);
  }

  #onClose(cancel: (reason: Error) => void): () => void {
    this.#assertOpen();
    const cancels = (this.#cancels ??= new Set());
    cancels.add(cancel);
    return () => cancels.delete(cancel);
  }
}
