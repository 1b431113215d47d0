// What a user's first program does, on the native backend (with calls every
// Linux kernel has: memfd, seals, mmap) and on the emulator (a udmabuf seen
// through its memfd). It also names the addon file this process mapped, which
// must lie under the directory given: the prebuild, when the caller says so.
'use strict';

const assert = require('node:assert');
const { readFileSync } = require('node:fs');
const path = require('node:path');

function smoke(dmabridge, addonDir, how) {
  const native = dmabridge.open({ backend: 'native' });
  try {
    const memfd = native.createMemfd(1 << 16, { name: 'smoke' });
    const map = memfd.map('rw');
    map.view.fill(7);
    map.close();
    memfd.seal('grow', 'shrink');
    assert.deepStrictEqual([...memfd.seals].sort(), ['grow', 'shrink']);
    const again = memfd.map('read');
    assert.strictEqual(again.view[65535], 7);
    again.close();
    memfd.close();
  } finally {
    native.close();
  }
  const emulator = dmabridge.open({ backend: 'emulator' });
  try {
    const buf = emulator.createUdmabuf(1 << 20);
    const map = buf.map('rw');
    map.view[4096] = 42;
    map.close();
    const pages = buf.memfdRanges[0].memfd.map('read');
    assert.strictEqual(pages.view[4096], 42);
    pages.close();
    buf.close();
  } finally {
    emulator.close();
  }
  const addon = readFileSync('/proc/self/maps', 'utf8').match(/\S+\.node$/m)?.[0];
  assert.ok(addon && addon.startsWith(path.resolve(addonDir)), `the addon came from ${addon}, not from ${path.resolve(addonDir)}`);
  console.log(JSON.stringify({ how, node: process.version, arch: process.arch, addon }));
}

module.exports = { smoke };
