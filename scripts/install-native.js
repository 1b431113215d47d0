// npm's install hook. A prebuild that loads here is used as it is; only when
// none does (another libc or arch), or when asked with
// `npm install --build-from-source`, is the addon compiled with node-gyp. A
// failed build never fails the install: everything works on the emulator
// backend without the addon.
'use strict';

const { spawnSync } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { nativeCandidates } = require('./native-files');

const root = path.resolve(__dirname, '..');

function warn(line) {
  console.warn(`dmabridge: ${line}`);
}

function loadablePrebuild() {
  for (const { kind, file } of nativeCandidates(root)) {
    if (kind !== 'prebuild') continue;
    try {
      process.dlopen({ exports: {} }, file);
      return file;
    } catch {
      // Another glibc or a broken file: try the next, then build.
    }
  }
  return undefined;
}

// node-gyp is not a dependency: npm runs install scripts with its own copy
// (npm_config_node_gyp); a clone of dmabridge has it as a dev dependency.
function nodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    return process.env.npm_config_node_gyp;
  }
}

function main() {
  if (process.platform !== 'linux') {
    warn(`the native addon needs Linux (this is ${process.platform}); the emulator backend works here.`);
    return;
  }
  const fromSource = process.env.npm_config_build_from_source === 'true';
  if (!fromSource && loadablePrebuild()) return;
  const gyp = nodeGyp();
  const result = gyp
    ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
    : { status: null, error: new Error('node-gyp was not found') };
  if (result.status === 0) return;
  const log = path.join(os.tmpdir(), `dmabridge-build-${process.pid}.log`);
  writeFileSync(log, `${result.error ? `${result.error.message}\n` : ''}${result.stdout ?? ''}${result.stderr ?? ''}`);
  warn(`no native addon for ${process.platform}-${process.arch} (no prebuild loads here and the source build failed, see ${log}); the emulator backend works. For the kernel: install g++, make and python3, then \`npm rebuild dmabridge --build-from-source\`.`);
}

main();
