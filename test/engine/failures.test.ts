import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { ACTIONS_QUEUE, jobIds } from '@dynamite/domain';
import { EngineHarness, sampleStream, sleep, waitFor, webServiceConfig } from '../support/engine-harness';

// Guarantees 7, 8 and 9: fleet failing, bad samples, stale metrics.
describe('failures', () => {
  let h: EngineHarness;

  before(async () => {
    h = await EngineHarness.start({
      suite: 'failures',
      env: { DYNAMITE_ACTION_ATTEMPTS: '3', DYNAMITE_ACTION_BACKOFF_MS: '200' },
      ...webServiceConfig({ min: 1, max: 5, upPeriod: 1.5, downPeriod: 60, cooldown: 1, staleAfter: 0.6 }),
    });
    h.spawn('scheduler');
    h.spawn('worker');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'min instance', h);
  });
  after(async () => { await h.stop(); });

  test('7: fleet answering 500s: retried with backoff, then failed; a manual retry completes it once fleet is healthy', async () => {
    await h.emulatorFaults({ errorRate: 1, path: '8081', methods: ['PUT'] });
    await h.register('webserver', 'u-500', 'web@8080.service');
    const stream = sampleStream(h, 'webserver', 'u-500', 'cpu_user', () => 99, 150);
    await waitFor(async () => (await h.actions('web')).find((x) => x.instance === 'web@8081.service'), 20_000, 'scale up decided', h);
    await stream.stop(); // one decision is enough: later ones would (rightly) add web@8082 after the cooldown
    const action = await waitFor(async () => {
      const a = (await h.actions('web')).find((x) => x.instance === 'web@8081.service');
      return a?.status === 'failed' ? a : null;
    }, 60_000, 'the action failed after its retry budget', h);
    const connection = new IORedis(h.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(ACTIONS_QUEUE, { connection, prefix: h.prefix });
    try {
      const job = await queue.getJob(jobIds.action(action.decisionId));
      assert.ok(job, 'the job is kept');
      assert.equal(await job.getState(), 'failed');
      assert.equal(job.attemptsMade, 3);
      assert.match(job.failedReason, /500/);
      assert.ok(!(await h.launchedUnits()).includes('web@8081.service'));
      await h.emulatorFaults(null);
      await job.retry('failed'); // what Bull Board's Retry button calls
      await waitFor(async () => (await h.actions('web')).find((x) => x.instance === 'web@8081.service')?.status === 'done', 30_000, 'manual retry done', h);
      await waitFor(async () => (await h.launchedUnits()).includes('web@8081.service'), 20_000, 'web@8081 launched', h);
      // retrying again changes nothing: idempotent
      const again = await queue.getJob(jobIds.action(action.decisionId));
      assert.equal(await again!.getState(), 'completed');
      const names = await h.unitNames();
      assert.equal(names.filter((n) => n === 'web@8081.service').length, 1);
      assert.equal(names.filter((n) => n.startsWith('web@')).length, 2);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  test('8: bad samples are counted and skipped; good samples next to them are still evaluated', async () => {
    await sleep(1_200); // scale-up cooldown over
    await h.register('webserver', 'u-bad', 'web@8081.service');
    const bad: [string, string][] = [
      [`/metrics/webserver/u-bad/cpu_user/${new Date().toISOString()}x`, '99'], // bad timestamp
      ['/metrics/webserver/u-bad/cpu_user/yesterday', '99'], // bad timestamp
      ['/metrics/webserver/u-bad/extra/cpu_user/2026-01-01T00:00:00.000Z', '99'], // wrong depth
      ['/metrics/webserver/cpu_user', '99'], // wrong depth
    ];
    let i = 0;
    const values = ['lots', 'NaN', '{"cpu_user": 99}', '', '99', '99', '99'];
    const goodAndBad = (async () => {
      const started = Date.now();
      while (Date.now() - started < 3_000) {
        const value = values[i % values.length]!;
        i += 1;
        await h.etcd.put(`/metrics/webserver/u-bad/cpu_user/${new Date().toISOString()}`).value(value);
        const [k, v] = bad[i % bad.length]!;
        await h.etcd.put(k).value(v);
        await sleep(100);
      }
    })();
    await goodAndBad;
    await waitFor(async () => (await h.actions('web')).find((x) => x.instance === 'web@8082.service'), 20_000, 'good samples still scaled up', h);
    const stats = await h.etcd.getAll().prefix('/_dynamite/stats/').strings();
    const rejected = Object.entries(stats).filter(([k]) => k.includes('samples_rejected'));
    const reasons = rejected.map(([k]) => k.replace('/_dynamite/stats/samples_rejected_', '')).sort();
    assert.ok(reasons.includes('bad_timestamp'), reasons.join());
    assert.ok(reasons.includes('bad_depth'), reasons.join());
    assert.ok(reasons.includes('not_a_number'), reasons.join());
  });

  test('9: an armed timer whose samples stop fires nothing; the decision record says stale', async () => {
    await sleep(1_200);
    await h.register('webserver', 'u-stale', 'web@8080.service');
    const before = (await h.actions('web')).length;
    await h.sample('webserver', 'u-stale', 'cpu_user', 99);
    await sleep(100);
    await h.sample('webserver', 'u-stale', 'cpu_user', 99);
    // silence: the period (1.5 s) expires with the newest sample older than stale_after (0.6 s)
    const stale = await waitFor(async () => (await h.decisions('web')).find((d) => (d as { machine?: string }).machine === 'u-stale' && d.outcome === 'suppressed' && d.reason === 'stale'), 10_000, 'stale record', h);
    assert.ok(stale);
    await sleep(500);
    assert.equal((await h.actions('web')).length, before, 'no action');
  });
});
