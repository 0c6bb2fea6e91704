import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineHarness, sampleKey, sleep, waitFor, webServiceConfig } from '../support/engine-harness';

// The contract dates a sample by when the engine received it. A non-breaching sample received before a window's
// expiry disarms it, even when no worker could look at it until after the expiry (and its check was merged into an
// earlier one by deduplication).
describe('receipt times', () => {
  let h: EngineHarness;

  before(async () => {
    h = await EngineHarness.start({ suite: 'receipts', ...webServiceConfig({ min: 1, max: 3, upPeriod: 3, downPeriod: 60, cooldown: 1 }) });
    h.spawn('scheduler');
    h.spawn('worker');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'min instance', h);
  });
  after(async () => { await h.stop(); });

  test('a disarming sample received before the expiry disarms, though it is evaluated after it', async () => {
    await h.register('webserver', 'u-r', 'web@8080.service');
    const first = await h.put(sampleKey('webserver', 'u-r', 'cpu_user', Date.now()), '99');
    // A machine seen for the first time starts from the newest sample it finds: the second sample is written once
    // the first was evaluated, or a slow first check would skip the first.
    await h.waitForChecksDone(first);
    await sleep(5);
    const second = await h.put(sampleKey('webserver', 'u-r', 'cpu_user', Date.now()), '99');
    const armed = await waitFor(async () => {
      const m = await h.etcd.get('/_dynamite/policy/web/web_up/machine/u-r').json() as { state?: { armed?: { expiresAt: number; samples: number } | null } } | null;
      return m?.state?.armed && m.state.armed.samples >= 2 ? m.state.armed : null;
    }, 10_000, 'armed with both samples', h);
    await h.waitForChecksDone(second);
    // No worker from here on: the checks of the next samples wait in the queue.
    for (const p of h.processes.filter((x) => x.name.startsWith('worker'))) await h.kill(p, 'SIGKILL');
    const third = await h.put(sampleKey('webserver', 'u-r', 'cpu_user', Date.now()), '99'); // its check waits (first add)
    await waitFor(() => h.schedulerSaw(third), 10_000, 'the check of the third sample added', h);
    const disarming = await h.put(sampleKey('webserver', 'u-r', 'cpu_user', Date.now()), '5'); // merged into that waiting check: no receipt in the job
    assert.ok(Date.now() < armed.expiresAt - 500, 'the disarming sample was received well before the expiry');
    await sleep(Math.max(0, armed.expiresAt - Date.now()) + 1_000); // the worker comes back after the expiry
    h.spawn('worker');
    // Every sample evaluated and the window closed (by the disarming sample, or by its timer): its record is written.
    await h.waitForChecksDone(disarming);
    await waitFor(async () => {
      const m = await h.etcd.get('/_dynamite/policy/web/web_up/machine/u-r').json() as { state: { armed: unknown } } | null;
      return m !== null && m.state.armed === null;
    }, 20_000, 'the window of u-r closed', h);
    const decisions = (await h.decisions('web')).filter((d) => d.machine === 'u-r' && d.policy === 'web_up');
    assert.ok(decisions.some((d) => d.outcome === 'disarmed'), JSON.stringify(decisions.map((d) => d.outcome)));
    assert.equal((await h.decisions('web')).filter((d) => d.outcome === 'scaled').length, 0, 'nothing fired');
    assert.equal((await h.actions('web')).filter((a) => a.kind === 'scale_up').length, 1, 'only the min_instance repair');
  });
});
