import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineHarness, waitFor, webServiceConfig } from '../support/engine-harness';
import { freePort } from '../support/ports';

// A worker run on its own serves its own /metrics: the fleet actions it carried out are counted there.
describe('worker metrics listener', () => {
  let h: EngineHarness;
  let url: string;

  before(async () => {
    h = await EngineHarness.start({ suite: 'wmetrics', ...webServiceConfig({ min: 2, max: 3 }) });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    h.spawn('scheduler');
    h.spawn('worker', ['--metrics', `127.0.0.1:${port}`]);
  });
  after(async () => { await h.stop(); });

  test('/metrics counts the fleet actions this worker did; /healthz answers; other paths 404', async () => {
    await waitFor(async () => (await h.launchedUnits()).filter((n) => n.startsWith('web@')).length === 2, 30_000, 'min instances', h);
    const text = await waitFor(async () => {
      const res = await fetch(`${url}/metrics`);
      const body = await res.text();
      return /dynamite_fleet_actions_total\{[^}]*kind="scale_up"[^}]*result="done"[^}]*\} 2/.test(body) ? body : null;
    }, 20_000, 'two scale-up actions counted', h);
    assert.match(text, /dynamite_fleet_action_seconds_count\{kind="scale_up"\} 2/);
    assert.match(text, /dynamite_process_cpu_user_seconds_total/);
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await fetch(`${url}/nope`)).status, 404);
    assert.equal((await fetch(`${url}/metrics`, { method: 'POST' })).status, 405);
  });

  test('a bad --metrics value is one clear line and exit code 2', async () => {
    const bad = h.spawn('worker', ['--metrics', 'nonsense']);
    assert.equal(await bad.exited, 2);
    assert.match(h.log(bad), /--metrics "nonsense"/);
    assert.doesNotMatch(h.log(bad), /\n\s+at /);
  });
});
