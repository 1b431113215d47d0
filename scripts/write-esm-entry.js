// Writes dist/src/index.mjs: an ES module face over the CommonJS build, so
// `import { open } from 'dmabridge'` and `require('dmabridge')` share one
// module instance.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dist = join(__dirname, '..', 'dist', 'src');
const names = Object.keys(require(join(dist, 'index.js'))).filter((n) => n !== 'default');
writeFileSync(
  join(dist, 'index.mjs'),
  `import cjs from './index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`,
);
