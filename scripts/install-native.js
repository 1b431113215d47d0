// npm's install hook: use a prebuilt addon for this platform if the package
// has one, else build it with node-gyp. A failed build never fails the
// install: everything works on the emulator backend without the addon.
'use strict';

const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function warn(lines) {
  console.warn(lines.map((line) => `dmabridge: ${line}`).join('\n'));
}

function hasPrebuild() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.node'));
}

function nodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    return process.env.npm_config_node_gyp;
  }
}

function main() {
  if (process.platform !== 'linux') {
    warn([`the native addon needs Linux (this is ${process.platform}); the emulator backend works here.`]);
    return;
  }
  if (hasPrebuild()) return;
  const gyp = nodeGyp();
  const result = gyp
    ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' })
    : { status: null, error: new Error('node-gyp was not found') };
  if (result.status === 0) return;
  warn([
    `building the native addon failed${result.error ? ` (${result.error.message})` : ''}.`,
    'The emulator backend still works. To use the kernel, install g++, make and python3,',
    'then run `npm run build:native` in this package.',
  ]);
}

main();
