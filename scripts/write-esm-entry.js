// Writes an ES module face over each CommonJS entry of the build
// (dist/src/index.mjs for 'dmabridge', dist/emulator/index.mjs for
// 'dmabridge/emulator'), so that `import` and `require` share one module
// instance: one emulated machine per process, one loaded addon.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

for (const dir of ['src', 'emulator']) {
  const dist = join(__dirname, '..', 'dist', dir);
  const names = Object.keys(require(join(dist, 'index.js'))).filter((n) => n !== 'default');
  writeFileSync(
    join(dist, 'index.mjs'),
    `import cjs from './index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`,
  );
}
