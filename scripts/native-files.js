// Where the native addon may be, best first: the prebuild for this platform,
// arch and libc (prebuildify's layout), then a local node-gyp build, unless
// that build is newer than the prebuilds: then it was asked for (`npm rebuild
// --build-from-source`; npm packs files with a 1985 mtime) or a developer
// rebuilt native/, and it goes first. Shared by the install script (which
// compiles only when no prebuild loads) and the loader in src/native.ts, so
// that both agree on what matches.
'use strict';

const { existsSync, readdirSync, statSync } = require('node:fs');
const path = require('node:path');

function libc() {
  const header = process.report && process.report.getReport().header;
  return header && header.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** prebuilds/<platform>-<arch>/<name>[.napi][.<libc>].node: tagged with this libc first, untagged next, never the other libc. */
function prebuilds(root) {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return [];
  const mine = libc();
  const tagged = (f) => f.split('.').includes(mine);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.node') && !f.split('.').some((t) => (t === 'glibc' || t === 'musl') && t !== mine))
    .sort((a, b) => Number(tagged(b)) - Number(tagged(a)))
    .map((f) => path.join(dir, f));
}

/** Each place the addon may be, in the order the loader tries them. */
function nativeCandidates(root) {
  const local = { kind: 'local build', file: path.join(root, 'build', 'Release', 'dmabridge.node') };
  const prebuilt = prebuilds(root).map((file) => ({ kind: 'prebuild', file }));
  const mtime = (file) => statSync(file).mtimeMs;
  const localIsNewer = existsSync(local.file) && prebuilt.every(({ file }) => mtime(file) < mtime(local.file));
  return localIsNewer ? [local, ...prebuilt] : [...prebuilt, local];
}

module.exports = { nativeCandidates, libc };
