'use strict';
// Merges the native (one guest), cluster (two guests) and emulator (host)
// results of `npm run bench` into one table on the terminal and one JSON file.
// Usage: node scripts/bench/report.js NATIVE.json CLUSTER.json EMULATOR.json OUT.json
// (NATIVE and EMULATOR as `dmabridge bench --json` writes them).
const { readFileSync, writeFileSync } = require('node:fs');
const { rows, renderTable } = require('../../dist/src/bench/report');

const [nativeFile, clusterFile, emulatorFile, outFile] = process.argv.slice(2);
const read = (file) => JSON.parse(readFileSync(file, 'utf8'));
const native = read(nativeFile), cluster = read(clusterFile), emulator = read(emulatorFile);

const results = { native: native.native, cluster, emulator: emulator.emulator };
const table = rows(results);
console.log(renderTable(table));
console.log(`peers: ib_write_bw (perftest ${native.machine.perftest ?? '(version unknown)'}) for writes, C loops in src/bench/peers/ for the rest; ${native.native.reps} timed runs after ${native.native.warmup} warm-up each.`);
console.log(`native part: qemu TCG guest, kernel ${native.native.kernel}, rxe0 on lo; two-host part: two such guests on a qemu UDP link, rxe1 on each NIC; host ${emulator.machine.host}; ${native.machine.date}`);
writeFileSync(outFile, JSON.stringify({ machine: { host: emulator.machine.host, guestKernel: native.native.kernel, date: native.machine.date }, rows: table, ...results }, null, 2));
console.log(`JSON: ${outFile}`);
