// node user.mjs ADDON_DIR: import from 'dmabridge' as an ES module user does.
import * as dmabridge from 'dmabridge';
import smoke from './smoke.cjs';

smoke.smoke(dmabridge, process.argv[2], 'import');
