import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findLayerViolations, importsOf } from './layers';

const ROOT = path.resolve(__dirname, '../../..');

test('the workspace keeps its layers: no app imports another app but the dispatcher its mains; the pure cores do no I/O', () => {
  assert.deepEqual(findLayerViolations(ROOT), []);
});

test('package.json dependencies and tsconfig references are the ones the imports need', () => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/sync-workspace-deps.mjs'), '--check'], { stdio: 'pipe' });
});

test('the layer check finds each kind of violation in a workspace that has them', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dynamite-layers-'));
  try {
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), text);
    };
    for (const [dir, name] of [['apps/worker', 'worker'], ['apps/scheduler', 'scheduler'], ['apps/cli', 'cli'], ['libs/domain', 'domain'], ['libs/engine', 'engine']]) {
      write(`${dir}/package.json`, JSON.stringify({ name: `@dynamite/${name}` }));
    }
    write('apps/scheduler/src/a.ts', "import { startWorker } from '@dynamite/worker';\n");
    write('apps/cli/src/b.ts', "import { startWorker, createEngineContext } from '@dynamite/worker';\nimport { startScheduler } from '@dynamite/scheduler';\n");
    write('libs/engine/src/c.ts', "import type { RunningWorker } from '@dynamite/worker';\n");
    write('libs/domain/src/d.ts', "import fs from 'node:fs';\nexport const t = () => Date.now();\n");
    const found = findLayerViolations(root).map((v) => `${v.file}: ${v.message}`);
    assert.deepEqual(found, [
      'apps/cli/src/b.ts: the dispatcher may only take @dynamite/worker\'s main (startWorker, WorkerOptions, RunningWorker), not createEngineContext',
      'apps/scheduler/src/a.ts: an app imports another app (@dynamite/worker); move what both need into a lib',
      'libs/domain/src/d.ts: the pure core imports node:fs (allowed: @dynamite/unit-files, js-yaml, zod, node:crypto, node:zlib)',
      'libs/domain/src/d.ts: the pure core calls Date.now (take time and randomness as arguments)',
      'libs/engine/src/c.ts: a library imports the app @dynamite/worker',
    ]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('imports are read with their names: named, typed, renamed, default, namespace, dynamic and re-exports', () => {
  assert.deepEqual(importsOf([
    "import { a, type B, c as d } from 'x';",
    "import type { E } from 'y';",
    "import f, { g } from 'z';",
    "import * as h from 'w';",
    "export { i } from 'v';",
    "const j = await import('u');",
    "import 'side';",
  ].join('\n')), [
    { module: 'x', names: ['a', 'B', 'c'] },
    { module: 'y', names: ['E'] },
    { module: 'z', names: ['g', '*'] },
    { module: 'w', names: ['*'] },
    { module: 'v', names: ['i'] },
    { module: 'u', names: ['*'] },
    { module: 'side', names: ['*'] },
  ]);
});
