import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { ACTIONS_QUEUE, jobIds } from '@dynamite/domain';
import { EngineHarness, sampleKey, sampleStream, scrapeRejectedSamples, sleep, waitFor, webServiceConfig } from '../support/engine-harness';
import { freePort } from '../support/ports';

const FAILURES_CONFIG = webServiceConfig({ min: 1, max: 5, upPeriod: 1.5, downPeriod: 60, cooldown: 1, staleAfter: 0.6 });

/** Keys that are not samples: the scheduler, which routes every put by its key, counts each once. */
const BAD_KEYS: { key: () => string; reason: string }[] = [
  { key: () => `/metrics/webserver/u-bad/cpu_user/${new Date().toISOString()}x`, reason: 'bad_timestamp' },
  { key: () => '/metrics/webserver/u-bad/cpu_user/yesterday', reason: 'bad_timestamp' },
  { key: () => '/metrics/webserver/u-bad/extra/cpu_user/2026-01-01T00:00:00.000Z', reason: 'bad_depth' },
  { key: () => '/metrics/webserver/cpu_user', reason: 'bad_depth' },
  { key: () => '/metrics/webserver//cpu_user/2026-01-01T00:00:00.000Z', reason: 'empty_segment' },
];
/** Samples with a good key and a bad value: the worker that evaluates them counts each once. */
const BAD_VALUES: { value: string; reason: string }[] = [
  { value: 'lots', reason: 'not_a_number' },
  { value: 'NaN', reason: 'not_finite' },
  { value: '{"cpu_user": 99}', reason: 'not_a_number' },
  { value: '', reason: 'not_a_number' },
];
const KEY_REASONS = count(BAD_KEYS.map((b) => b.reason));
/** And one sample older than the newest seen. */
const VALUE_REASONS = count([...BAD_VALUES.map((b) => b.reason), 'out_of_order']);


// Guarantees 7, 8 and 9: fleet failing, bad samples, stale metrics. A scheduler and a worker as separate processes.
describe('failures', () => {
  let h: EngineHarness;
  let schedulerMetrics: string;
  let workerMetrics: string;

  before(async () => {
    h = await EngineHarness.start({
      suite: 'failures',
      env: { DYNAMITE_ACTION_ATTEMPTS: '3', DYNAMITE_ACTION_BACKOFF_MS: '200' },
      ...FAILURES_CONFIG,
    });
    const [schedulerPort, workerPort] = [await freePort(), await freePort()];
    schedulerMetrics = `http://127.0.0.1:${schedulerPort}/metrics`;
    workerMetrics = `http://127.0.0.1:${workerPort}/metrics`;
    h.spawn('scheduler', ['--http', `127.0.0.1:${schedulerPort}`]);
    h.spawn('worker', ['--metrics', `127.0.0.1:${workerPort}`]);
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
      // The action is recorded done in etcd just before its job completes in Redis.
      const again = await queue.getJob(jobIds.action(action.decisionId));
      await waitFor(async () => (await again!.getState()) === 'completed', 10_000, 'the retried job completed', h);
      const names = await h.unitNames();
      assert.equal(names.filter((n) => n === 'web@8081.service').length, 1);
      assert.equal(names.filter((n) => n.startsWith('web@')).length, 2);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  let counted: RejectedCounts | null = null;

  test('8: bad samples are skipped and good samples next to them still evaluated; bad keys are counted once each, by the scheduler', async () => {
    counted = await badSamplesScenario(h, 'web@8082.service', [schedulerMetrics, workerMetrics]);
    const [scheduler, worker] = counted.metrics as [Record<string, number>, Record<string, number>];
    assert.deepEqual(scheduler, KEY_REASONS, "the scheduler's dynamite_samples_rejected_total: each bad key once, nothing else");
    assert.deepEqual(Object.keys(worker).sort(), Object.keys(VALUE_REASONS).sort(), "the worker's dynamite_samples_rejected_total: value and order problems only");
    assert.deepEqual(only(counted.stats, KEY_REASONS), KEY_REASONS, '/_dynamite/stats/samples_rejected_<reason>: each bad key once');
  });

  test('8: bad values and out-of-order samples are counted once each, by the worker that evaluates them', () => {
    assert.ok(counted, 'the test above ran');
    assert.deepEqual(counted.metrics[1], VALUE_REASONS, "the worker's dynamite_samples_rejected_total: each bad value once");
    assert.deepEqual(only(counted.stats, VALUE_REASONS), VALUE_REASONS, '/_dynamite/stats/samples_rejected_<reason>: each bad value once');
  });

  test('9: an armed timer whose samples stop fires nothing; the decision record says stale', async () => {
    await h.waitForCooldownsOver('web'); // a breaching sample during a cooldown arms nothing
    await h.register('webserver', 'u-stale', 'web@8080.service');
    const before = (await h.actions('web')).length;
    await h.sample('webserver', 'u-stale', 'cpu_user', 99);
    await sleep(100); // two samples, 100 ms apart: enough for a window, then silence
    const last = await h.put(sampleKey('webserver', 'u-stale', 'cpu_user', Date.now()), '99');
    // silence: the period (1.5 s) expires with the newest sample older than stale_after (0.6 s)
    const stale = await waitFor(async () => (await h.decisions('web')).find((d) => d.machine === 'u-stale' && d.outcome === 'suppressed' && d.reason === 'stale'), 10_000, 'stale record', h);
    assert.ok(stale);
    // The window's fire and its action would have been committed together with the record that closed it.
    await h.waitForChecksDone(last);
    assert.equal((await h.actions('web')).length, before, 'no action');
  });
});

// Guarantee 8 again under `dynamite run`: the scheduler and a worker in one process share one metrics registry.
describe('bad samples under dynamite run', () => {
  let h: EngineHarness;
  let metrics: string;

  before(async () => {
    h = await EngineHarness.start({ suite: 'failures-run', ...FAILURES_CONFIG });
    const port = await freePort();
    metrics = `http://127.0.0.1:${port}/metrics`;
    h.spawn('run', ['--http', `127.0.0.1:${port}`]);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'min instance', h);
  });
  after(async () => { await h.stop(); });

  let counted: RejectedCounts | null = null;

  test('8: bad keys are counted once each, in the one registry and in etcd; good samples still scale up', async () => {
    counted = await badSamplesScenario(h, 'web@8081.service', [metrics]);
    const [shared] = counted.metrics as [Record<string, number>];
    assert.deepEqual(Object.keys(shared).sort(), Object.keys({ ...KEY_REASONS, ...VALUE_REASONS }).sort(), 'dynamite_samples_rejected_total: every reason, no other');
    assert.deepEqual(only(shared, KEY_REASONS), KEY_REASONS, 'dynamite_samples_rejected_total: each bad key once');
    assert.deepEqual(only(counted.stats, KEY_REASONS), KEY_REASONS, '/_dynamite/stats/samples_rejected_<reason>: each bad key once');
  });

  test('8: bad values and out-of-order samples are counted once each, in the one registry and in etcd', () => {
    assert.ok(counted, 'the test above ran');
    assert.deepEqual(only(counted.metrics[0]!, VALUE_REASONS), VALUE_REASONS, 'dynamite_samples_rejected_total: each bad value once');
    assert.deepEqual(only(counted.stats, VALUE_REASONS), VALUE_REASONS, '/_dynamite/stats/samples_rejected_<reason>: each bad value once');
  });
});

function count(reasons: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of reasons) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** What a counter gained since `before`, without the reasons that did not change. */
function gained(now: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [reason, n] of Object.entries(now)) if (n !== (before[reason] ?? 0)) out[reason] = n - (before[reason] ?? 0);
  return out;
}

/** The counts a bad-samples scenario gained: per scraped /metrics (in the order given), and in etcd. */
interface RejectedCounts {
  metrics: Record<string, number>[];
  stats: Record<string, number>;
}

/** The entries of `counts` for the reasons of `expected`. */
function only(counts: Record<string, number>, expected: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([reason]) => reason in expected));
}

/**
 * Writes each kind of bad sample exactly once among breaching good samples of one instance, checks that the good
 * samples still scale the service up (to `newInstance`), waits until every sample written has been evaluated, and
 * returns what the rejected-sample counters gained: in each registry scraped at `metricsUrls` and in etcd.
 */
async function badSamplesScenario(h: EngineHarness, newInstance: string, metricsUrls: string[]): Promise<RejectedCounts> {
  const metricsBefore = await Promise.all(metricsUrls.map(scrapeRejectedSamples));
  const statsBefore = await h.rejectedSampleStats();
  await h.waitForCooldownsOver('web'); // a breaching sample during a cooldown arms nothing
  await h.register('webserver', 'u-bad', 'web@8080.service');

  // Every sample gets its own timestamp: two puts in one millisecond would be one key.
  let lastTs = Date.now();
  const nextKey = () => sampleKey('webserver', 'u-bad', 'cpu_user', (lastTs = Math.max(Date.now(), lastTs + 1)));
  // A state machine seen for the first time starts from its newest sample (older ones predate the engine), so the
  // instance's machines are made to exist first: from then on they evaluate every sample.
  const first = await h.put(nextKey(), '50');
  const firstTs = lastTs;
  await waitFor(async () => (await Promise.all(['web_up', 'web_down'].map((p) => h.etcd.get(`/_dynamite/policy/web/${p}/machine/u-bad`).string()))).every((m) => m !== null), 10_000, 'both state machines of u-bad exist', h);
  await h.waitForChecksDone(first);

  // Breaching good samples with the bad ones in between, each bad one written once; the good ones go on (every
  // 100 ms, fresher than stale_after) until their window has fired.
  let lastRevision = first;
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i += 1) {
      lastRevision = await h.put(nextKey(), '99');
      if (i < BAD_VALUES.length) lastRevision = await h.put(nextKey(), BAD_VALUES[i]!.value);
      if (i < BAD_KEYS.length) lastRevision = await h.put(BAD_KEYS[i]!.key(), '99');
      if (i === 0) lastRevision = await h.put(sampleKey('webserver', 'u-bad', 'cpu_user', firstTs - 1), '99'); // older than the newest seen
      await sleep(100);
    }
  })();
  try {
    await waitFor(async () => (await h.actions('web')).find((x) => x.instance === newInstance), 20_000, `good samples still scaled up (${newInstance})`, h);
  } finally {
    stop = true;
    await writer;
  }
  await h.waitForChecksDone(lastRevision);

  const metricsAfter = await Promise.all(metricsUrls.map(scrapeRejectedSamples));
  // The etcd counters are written just after the Prometheus ones, without waiting: wait until they caught up.
  const inMetrics = metricsAfter.map((m, i) => gained(m, metricsBefore[i]!)).reduce((sum, m) => sum + Object.values(m).reduce((a, b) => a + b, 0), 0);
  const stats = await waitFor(async () => {
    const g = gained(await h.rejectedSampleStats(), statsBefore);
    return Object.values(g).reduce((a, b) => a + b, 0) >= inMetrics ? g : null;
  }, 10_000, `the ${inMetrics} rejected samples of /metrics counted in etcd too`, h);
  return { metrics: metricsAfter.map((m, i) => gained(m, metricsBefore[i]!)), stats };
}
