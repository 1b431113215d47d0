// Work the emulated devices do on their own, as rxe's tasks and a NIC's
// engines do: queued by a post (or a state change), then run at the next turn
// of the event loop, or by a poll that comes once the device's latency has
// passed, so that a busy-polling loop makes progress as it does on the kernel,
// while a poll made right after the post finds nothing yet, as on rxe (whose
// writes took 36-52 µs in the test VM). One queue for every machine of the
// process: machines of one network move each other's bytes.

/** How long a device takes before a poll can see its work done. */
const LATENCY_NS = 50_000n;

const queued = new Map<object, () => void>();
/** When the oldest queued work was queued (process.hrtime). */
let since = 0n;
let turn: NodeJS.Immediate | undefined;

/** Runs `work` for `owner` soon, once however often asked, in the order first asked. */
export function queueWork(owner: object, work: () => void): void {
  if (queued.size === 0) since = process.hrtime.bigint();
  if (!queued.has(owner)) queued.set(owner, work);
  turn ??= setImmediate(runQueuedWork);
}

/** What a poll finds done: the queued work, once it has waited the device's latency. */
export function runDueWork(): void {
  if (queued.size > 0 && process.hrtime.bigint() - since >= LATENCY_NS) runQueuedWork();
}

/** Runs what was queued before this call; what that queues runs at the next turn or poll. */
function runQueuedWork(): void {
  turn = undefined;
  if (queued.size === 0) return;
  const batch = [...queued.values()];
  queued.clear();
  for (const work of batch) work();
  if (queued.size > 0) turn ??= setImmediate(runQueuedWork);
}
