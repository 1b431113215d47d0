// Loaded by scripts/test-gc.sh into every Node process of the run (--require):
// a full collection every 3 ms, so that the finalizers of what a test left
// unclosed run in the middle of whatever comes next. Never keeps a process alive.
if (typeof globalThis.gc === 'function') setInterval(() => globalThis.gc(), 3).unref();
