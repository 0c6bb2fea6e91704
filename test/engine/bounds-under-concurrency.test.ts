import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineHarness, sleep, waitFor, webServiceConfig } from '../support/engine-harness';

// Guarantee 3: with 4 workers of concurrency 8 and a burst of breaching samples on many instances at once, the
// instance count never leaves [min, max] and every decision yields exactly one action.
describe('bounds hold under concurrency', () => {
  let h: EngineHarness;
  const MAX = 4;

  before(async () => {
    // cooldown 0: nothing but the bounds transaction stands between 20 simultaneous fires and the fleet.
    h = await EngineHarness.start({ suite: 'bounds', ...webServiceConfig({ min: 1, max: MAX, upPeriod: 1, cooldown: 0 }) });
    h.spawn('scheduler');
    for (let i = 0; i < 4; i += 1) h.spawn('worker', ['--concurrency', '8']);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'min instance launched', h);
  });
  after(async () => { await h.stop(); });

  test('20 instances breaching at once produce exactly max - 1 scale ups, never more than max units', async () => {
    const uuids = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    let maxSeen = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const webs = (await h.unitNames().catch(() => [])).filter((n) => n.startsWith('web@'));
        maxSeen = Math.max(maxSeen, webs.length);
        await sleep(50);
      }
    })();
    const started = Date.now();
    // Each uuid writes breaching samples for ~2.5 s: every state machine arms and expires at about the same time.
    while (Date.now() - started < 2_500) {
      await Promise.all(uuids.map((u) => h.sample('webserver', u, 'cpu_user', 99)));
      await sleep(100);
    }
    await waitFor(async () => (await h.launchedUnits()).filter((n) => n.startsWith('web@')).length === MAX, 30_000, `${MAX} web units launched`, h);
    await sleep(3_000); // anything still in flight would show now
    polling = false;
    await poller;

    const webs = (await h.unitNames()).filter((n) => n.startsWith('web@'));
    assert.equal(webs.length, MAX);
    assert.ok(maxSeen <= MAX, `saw ${maxSeen} web units at once`);
    const decisions = await h.decisions('web');
    const scaled = decisions.filter((d) => d.outcome === 'scaled');
    const actions = await h.actions('web');
    assert.equal(scaled.length, MAX - 1, 'one scale decision per free slot');
    // every decision (the policy's and the min_instance repair at start) yields exactly one action, and every
    // action comes from one decision
    const deciding = decisions.filter((d) => d.outcome === 'scaled' || d.outcome === 'bound_repair');
    assert.equal(deciding.length, MAX);
    assert.deepEqual(actions.map((a) => a.decisionId).sort(), deciding.map((d) => d.id).sort());
    assert.ok(actions.every((a) => a.status === 'done'));
    assert.equal(new Set(actions.map((a) => a.instance)).size, actions.length, 'no instance decided twice');
    // The other windows closed too, and were suppressed: by max_instance, or -- when they closed while another
    // decision's (zero-length) cooldown was being committed -- by that cooldown. Never by a second action.
    const suppressed = decisions.filter((d) => d.outcome === 'suppressed' && (d.reason === 'max_instance' || d.reason === 'cooldown'));
    assert.ok(suppressed.length >= 20 - (MAX - 1) - 5, `most other fires were suppressed (${suppressed.length})`);
    const instances = await h.instances('web');
    assert.equal(Object.keys(instances).length, MAX);
  });
});
