import path from 'node:path';

/** The repository (or image) root: this file is apps/demo/dist/paths.js. */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const DYNAMITE_BIN = path.join(ROOT, 'bin', 'dynamite.js');
export const EXAMPLE_DIR = path.join(ROOT, 'examples', 'demo');
/** The compiled unit scripts (webserver.js, discovery.js). */
export const UNIT_SCRIPTS_DIR = path.join(__dirname, 'units');
