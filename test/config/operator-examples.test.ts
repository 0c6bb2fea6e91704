import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDynamite } from './support';

// The runnable examples of docs/hot-reload.md and docs/notifications.md are valid configs with their unit files.
for (const [config, units] of [
  ['examples/hot-reload/dynamite.yaml', 'examples/hot-reload/units'],
  ['examples/hot-reload/dynamite-with-api.yaml', 'examples/hot-reload/units'],
  ['examples/notifications/dynamite.yaml', 'examples/notifications/units'],
]) {
  test(`${config} validates`, async () => {
    const run = await runDynamite(['validate', '-c', config!, '-s', units!], { timeoutMs: 60_000 });
    assert.deepEqual({ code: run.code, stdout: run.stdout, stderr: run.stderr }, { code: 0, stdout: 'ok\n', stderr: '' });
  });
}
