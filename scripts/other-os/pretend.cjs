// Preloaded (node --require) into the user-style test of scripts/test-other-os.sh:
// the process says it runs on DMABRIDGE_PRETEND_PLATFORM (darwin, win32), and
// any file access under /proc, /sys or /dev fails the test, since those do
// not exist there.
'use strict';
const fs = require('node:fs');
const os = require('node:os');

const platform = process.env.DMABRIDGE_PRETEND_PLATFORM;
if (!platform) throw new Error('set DMABRIDGE_PRETEND_PLATFORM');
Object.defineProperty(process, 'platform', { value: platform });
os.platform = () => platform;

const LINUX_ONLY = /^\/(proc|sys|dev)(\/|$)/;
const touched = [];
for (const name of Object.keys(fs)) {
  const fn = fs[name];
  if (typeof fn !== 'function' || /^[A-Z]/.test(name)) continue;
  fs[name] = function (target, ...rest) {
    if (typeof target === 'string' && LINUX_ONLY.test(target)) {
      touched.push(`${name}(${target})`);
      throw new Error(`dmabridge touched ${target} (fs.${name}) on ${platform}, where it does not exist`);
    }
    return fn.call(this, target, ...rest);
  };
}
process.on('exit', (code) => {
  if (touched.length > 0 && code === 0) {
    console.error(`touched Linux-only paths: ${touched.join(', ')}`);
    process.exitCode = 1;
  }
});
