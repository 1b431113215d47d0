'use strict';
// What each piece of Resource's lifetime bookkeeping costs per object on this
// machine (no kernel, no addon): a WeakRef to it, an add and a delete in a
// parent's Set, and a FinalizationRegistry register and unregister. Each
// registration pays all three. Yields between batches, as a program does:
// a WeakRef keeps its target alive until the current job ends.
//   node scripts/bench/lifetime-probe.js
const registry = new FinalizationRegistry(() => {});
const children = new Set();
const PIECES = { nothing: 0, WeakRef: 1, 'Set add+delete': 2, 'FinalizationRegistry register+unregister': 4, all: 7 };

class Probe {
  #held = { releases: [] };
  constructor(mask) {
    if (mask & 1) this.#held.ref = new WeakRef(this);
    if (mask & 2) children.add(this.#held);
    if (mask & 4) registry.register(this, this.#held, this);
  }
  close(mask) {
    if (mask & 4) registry.unregister(this);
    if (mask & 2) children.delete(this.#held);
  }
}

async function main() {
  const batches = 100, perBatch = 2000;
  for (const [name, mask] of Object.entries(PIECES)) {
    let ns = 0n;
    for (let b = 0; b < batches; b++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < perBatch; i++) new Probe(mask).close(mask);
      ns += process.hrtime.bigint() - t0;
      await new Promise(setImmediate);
    }
    console.log(`${name.padEnd(42)} ${(Number(ns) / (batches * perBatch)).toFixed(0).padStart(6)} ns per object`);
  }
}

main();
