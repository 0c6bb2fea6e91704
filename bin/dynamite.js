#!/usr/bin/env node
// The `dynamite` command: every subcommand lives in apps/cli (compiled by `npm run build`).
'use strict';
let cli;
try {
  cli = require('../apps/cli/dist/index.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('apps/cli/dist')) {
    process.stderr.write('dynamite: not built yet; run `npm ci && npm run build` first\n');
    process.exit(70);
  }
  throw err;
}
cli.main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
