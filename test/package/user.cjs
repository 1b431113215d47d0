// node user.cjs ADDON_DIR: require('dmabridge') as a CommonJS user does.
require('./smoke.cjs').smoke(require('dmabridge'), process.argv[2], 'require');
