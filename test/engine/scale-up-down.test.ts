import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineHarness, sampleStream, sleep, waitFor, webServiceConfig } from '../support/engine-harness';
import { deletePrefix } from '../support/redis';

// Guarantees 1 and 2: a breaching per-instance metric adds exactly one instance (with its attached unit) and the
// cooldown holds further actions; a low metric removes the instance whose metric was low, attached unit first.
describe('scale up and scale down through fleet', () => {
  let h: EngineHarness;

  before(async () => {
    h = await EngineHarness.start({ suite: 'scale', ...webServiceConfig({ min: 1, max: 4, upPeriod: 1.5, downPeriod: 1.5, cooldown: 12 }) });
    h.spawn('scheduler');
    h.spawn('worker', ['--concurrency', '4']);
  });
  after(async () => { await h.stop(); });

  test('the scheduler brings web to min_instance: web@8080 with its attached unit', async () => {
    const launched = await waitFor(async () => {
      const units = await h.launchedUnits();
      return units.includes('web@8080.service') && units.includes('web_disc@8080.service') ? units : null;
    }, 20_000, 'web@8080 launched', h);
    assert.deepEqual(launched, ['web@8080.service', 'web_disc@8080.service']);
    const instances = await waitFor(async () => {
      const i = await h.instances('web');
      return i['web@8080.service']?.state === 'launched' ? i : null;
    }, 10_000, 'web@8080 recorded launched', h);
    assert.deepEqual(Object.keys(instances), ['web@8080.service']);
  });

  test('a breaching cpu_user for a period adds exactly one instance, and the cooldown holds', async () => {
    await h.register('webserver', 'uuid-a', 'web@8080.service');
    const stream = sampleStream(h, 'webserver', 'uuid-a', 'cpu_user', () => 95, 150);
    let last: string;
    try {
      await waitFor(async () => {
        const units = await h.launchedUnits();
        return units.includes('web@8081.service') && units.includes('web_disc@8081.service');
      }, 20_000, 'web@8081 launched with web_disc@8081', h);
      // Keep breaching well past another period (the load, not a wait): the cooldown (12 s) must hold every further action.
      await sleep(4_000);
    } finally {
      last = await stream.stop();
    }
    await h.waitForChecksDone(last); // every sample of the stream evaluated
    const units = await h.unitNames();
    assert.deepEqual(units, ['web@8080.service', 'web@8081.service', 'web_disc@8080.service', 'web_disc@8081.service']);
    const decisions = await h.decisions('web');
    const scaled = decisions.filter((d) => d.outcome === 'scaled');
    assert.equal(scaled.length, 1, JSON.stringify(decisions, null, 1));
    assert.equal(scaled[0]!.action?.instance, 'web@8081.service');
    assert.ok(decisions.some((d) => d.outcome === 'suppressed' && d.reason === 'cooldown'), 'a cooldown suppression is recorded');
    const actions = await h.actions('web');
    assert.equal(actions.filter((a) => a.kind === 'scale_up' && a.instance === 'web@8081.service').length, 1);
  });

  test('10: a cooldown survives a restart of the whole engine with its queues wiped', async () => {
    // The scale-up above started a 12 s cooldown. Kill everything, wipe this engine's Redis keys, restart,
    // and keep breaching: the cooldown lives in etcd, so nothing may be decided until it ends.
    const cooldown = await h.etcd.get('/_dynamite/policy/web/web_up/cooldown').json() as { until: number } | null;
    assert.ok(cooldown && cooldown.until > Date.now() + 2_000, 'a cooldown with at least 2 s left');
    for (const p of h.processes) await h.kill(p, 'SIGKILL');
    await deletePrefix(h.prefix, h.redisUrl);
    h.spawn('scheduler');
    h.spawn('worker', ['--concurrency', '4']);
    const stream = sampleStream(h, 'webserver', 'uuid-a', 'cpu_user', () => 95, 150);
    try {
      while (Date.now() < cooldown.until - 300) {
        assert.equal((await h.decisions('web')).filter((d) => d.outcome === 'scaled').length, 1, 'no decision during the cooldown');
        await sleep(200);
      }
    } finally {
      await stream.stop();
    }
    assert.ok((await h.decisions('web')).some((d) => d.outcome === 'suppressed' && d.reason === 'cooldown'));
    assert.equal((await h.unitNames()).filter((n) => n.startsWith('web@')).length, 2);
  });

  test('a low cpu_user removes the instance whose metric was low and its attached unit', async () => {
    // Wait out the scale-up cooldown? No: scale down has its own cooldown (per policy).
    await h.register('webserver', 'uuid-b', 'web@8081.service');
    const high = sampleStream(h, 'webserver', 'uuid-a', 'cpu_user', () => 50, 150);
    const low = sampleStream(h, 'webserver', 'uuid-b', 'cpu_user', () => 2, 150);
    let last: string[];
    try {
      await waitFor(async () => {
        const names = await h.unitNames();
        return !names.includes('web@8081.service') && !names.includes('web_disc@8081.service') ? names : null;
      }, 20_000, 'web@8081 and web_disc@8081 destroyed', h);
    } finally {
      last = await Promise.all([high.stop(), low.stop()]);
    }
    await h.waitForChecksDone(last.reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b))); // every sample of the streams evaluated
    assert.deepEqual(await h.unitNames(), ['web@8080.service', 'web_disc@8080.service']);
    const instances = await waitFor(async () => {
      const i = await h.instances('web');
      return Object.keys(i).length === 1 ? i : null;
    }, 10_000, 'instance record of web@8081 removed', h);
    assert.deepEqual(Object.keys(instances), ['web@8080.service']);
    const down = (await h.decisions('web')).filter((d) => d.outcome === 'scaled' && d.action?.kind === 'scale_down');
    assert.equal(down.length, 1);
    assert.equal(down[0]!.action?.instance, 'web@8081.service');
  });
});
