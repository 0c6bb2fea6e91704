import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OperatorEnv, metricSum, parseMetrics, waitFor } from './support';

async function scrape(env: OperatorEnv): Promise<{ text: string; metrics: Map<string, number> }> {
  const res = await fetch(`${env.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, metrics: parseMetrics(text) };
}

describe('/metrics', () => {
  let env: OperatorEnv;

  before(async () => {
    env = await OperatorEnv.start('metrics');
    await env.waitForMinInstances();
  });
  after(async () => { await env?.stop(); });

  test('every engine metric and every scrape-time gauge is there, with its help text', async () => {
    // The start-up actions are recorded in etcd a moment before their jobs are counted as completed.
    const { text } = await waitFor(async () => {
      const s = await scrape(env);
      return metricSum(s.metrics, 'dynamite_jobs_processed_total', { queue: 'actions', result: 'completed' }) === 2 ? s : null;
    }, 10_000, 'both start-up actions counted as completed');
    const names = [
      // Counters and histograms of EngineMetrics (scheduler and worker share the registry).
      'dynamite_samples_ingested_total', 'dynamite_samples_rejected_total', 'dynamite_decisions_total', 'dynamite_fleet_actions_total',
      'dynamite_fleet_action_seconds', 'dynamite_expiry_to_action_seconds', 'dynamite_jobs_processed_total', 'dynamite_watch_resyncs_total',
      'dynamite_process_cpu_seconds_total', 'dynamite_nodejs_eventloop_lag_seconds',
      // Computed at scrape time.
      'dynamite_queue_jobs', 'dynamite_armed_timers', 'dynamite_cooldowns_active', 'dynamite_cooldown_remaining_seconds',
      'dynamite_instances_desired', 'dynamite_instances_actual', 'dynamite_instances_min', 'dynamite_instances_max',
      'dynamite_actions_unfinished', 'dynamite_watch_lag_revisions', 'dynamite_watch_pending_samples', 'dynamite_dependency_up', 'dynamite_scrape_errors',
    ];
    for (const name of names) assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
    const { metrics } = await scrape(env);
    for (const queue of ['checks', 'actions', 'maintenance', 'notifications']) {
      for (const state of ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed']) {
        assert.ok(metrics.has(`dynamite_queue_jobs{queue="${queue}",state="${state}"}`), `${queue} ${state}`);
      }
    }
    assert.equal(metrics.get('dynamite_dependency_up{dependency="redis"}'), 1);
    assert.equal(metrics.get('dynamite_dependency_up{dependency="etcd"}'), 1);
    assert.equal(metrics.get('dynamite_dependency_up{dependency="fleet"}'), 1);
    assert.equal(metrics.get('dynamite_instances_desired{service="web"}'), 1);
    assert.equal(metrics.get('dynamite_instances_actual{service="web"}'), 1);
    assert.equal(metrics.get('dynamite_instances_min{service="web"}'), 1);
    assert.equal(metrics.get('dynamite_instances_max{service="web"}'), 3);
    assert.equal(metrics.get('dynamite_instances_desired{service="slow"}'), 1);
    assert.equal(metrics.get('dynamite_cooldowns_active{service="web",policy="web_up"}'), 0);
    assert.equal(metrics.get('dynamite_armed_timers{service="web",policy="web_up"}'), 0);
    // The bound repairs at start went through the shared registry: the worker's fleet actions are counted here.
    assert.equal(metricSum(metrics, 'dynamite_fleet_actions_total', { service: 'web', kind: 'scale_up', result: 'done' }), 1);
    assert.equal(metricSum(metrics, 'dynamite_decisions_total', { service: 'web', outcome: 'bound_repair', reason: 'min_instance' }), 1);
    assert.equal(metricSum(metrics, 'dynamite_jobs_processed_total', { queue: 'actions', result: 'completed' }), 2);
  });

  test('the metrics move after a scale up: samples, decisions, fleet actions, latency, instances, cooldown', async () => {
    const before = (await scrape(env)).metrics;
    await env.register('webserver', 'uuid-a', 'web@18080.service');
    const stream = env.stream('webserver', 'uuid-a', 'cpu_user', 95);
    try {
      await waitFor(async () => (await env.instances('web'))['web@18081.service']?.state === 'launched', 20_000, 'web@18081 launched and recorded');
    } finally {
      await stream.stop();
    }
    // etcd shows the instance launched a moment before the worker counts the job and BullMQ moves it to completed.
    const after = await waitFor(async () => {
      const { metrics } = await scrape(env);
      const settled = metrics.get('dynamite_instances_actual{service="web"}') === 2
        && metricSum(metrics, 'dynamite_queue_jobs', { queue: 'actions', state: 'completed' }) > metricSum(before, 'dynamite_queue_jobs', { queue: 'actions', state: 'completed' })
        && metricSum(metrics, 'dynamite_decisions_total', { service: 'web', outcome: 'action_done' }) > metricSum(before, 'dynamite_decisions_total', { service: 'web', outcome: 'action_done' });
      return settled ? metrics : null;
    }, 10_000, 'two web instances in fleet, the action job completed and its action_done counted');
    const delta = (name: string, labels: Record<string, string> = {}) => metricSum(after, name, labels) - metricSum(before, name, labels);

    assert.ok(delta('dynamite_samples_ingested_total', { policy: 'web_up' }) >= 2, 'samples ingested');
    assert.equal(delta('dynamite_decisions_total', { service: 'web', outcome: 'scaled', reason: 'web_up' }), 1);
    assert.ok(delta('dynamite_decisions_total', { service: 'web', outcome: 'armed' }) >= 1, 'armed recorded');
    assert.equal(delta('dynamite_decisions_total', { service: 'web', outcome: 'action_done' }), 1);
    assert.equal(delta('dynamite_fleet_actions_total', { service: 'web', kind: 'scale_up', result: 'done' }), 1);
    assert.equal(delta('dynamite_fleet_action_seconds_count', { kind: 'scale_up' }), 1);
    assert.ok(delta('dynamite_fleet_action_seconds_sum', { kind: 'scale_up' }) > 0);
    assert.equal(delta('dynamite_expiry_to_action_seconds_count', { service: 'web' }), 1);
    assert.ok(delta('dynamite_jobs_processed_total', { queue: 'checks', name: 'policy-check', result: 'completed' }) >= 1);
    assert.ok(delta('dynamite_jobs_processed_total', { queue: 'checks', name: 'period-expiry', result: 'completed' }) >= 1);
    assert.ok(delta('dynamite_queue_jobs', { queue: 'actions', state: 'completed' }) >= 1);

    assert.equal(after.get('dynamite_instances_desired{service="web"}'), 2);
    assert.equal(after.get('dynamite_instances_actual{service="web"}'), 2);
    assert.equal(after.get('dynamite_cooldowns_active{service="web",policy="web_up"}'), 1);
    const remaining = after.get('dynamite_cooldown_remaining_seconds{service="web",policy="web_up"}')!;
    assert.ok(remaining > 15 && remaining <= 60, String(remaining));
    assert.equal(after.get('dynamite_cooldowns_active{service="web",policy="web_down"}'), 0);
    assert.equal(after.get('dynamite_actions_unfinished{service="web",status="pending"}'), 0);
    assert.equal(after.get('dynamite_actions_unfinished{service="web",status="failed"}'), 0);
  });

  test('armed timers are counted per policy while a period runs', async () => {
    await env.register('slowtype', 'uuid-s', 'slow@19090.service');
    const t0 = Date.now();
    for (let i = 0; i < 3; i += 1) await env.sample('slowtype', 'uuid-s', 'load', 90 + i, t0 + i);
    await waitFor(async () => {
      const { metrics } = await scrape(env);
      return metrics.get('dynamite_armed_timers{service="slow",policy="slow_up"}') === 1;
    }, 15_000, 'dynamite_armed_timers{service="slow",policy="slow_up"} 1');
  });

  test('the watch lag gauges: pending samples drain to 0, the revision lag is a small non-negative number', async () => {
    const { metrics } = await waitFor(async () => {
      const s = await scrape(env);
      return s.metrics.get('dynamite_watch_pending_samples') === 0 ? s : null;
    }, 10_000, 'dynamite_watch_pending_samples 0');
    const lag = metrics.get('dynamite_watch_lag_revisions')!;
    assert.ok(Number.isInteger(lag) && lag >= 0, String(lag));
  });

  test('rejected samples are counted by reason', async () => {
    const before = (await scrape(env)).metrics;
    await env.etcd.put(`/metrics/webserver/uuid-a/cpu_user/${new Date().toISOString()}`).value('not a number');
    await env.etcd.put('/metrics/webserver/uuid-a/cpu_user/not-a-timestamp').value('50');
    const after = await waitFor(async () => {
      const { metrics } = await scrape(env);
      return metricSum(metrics, 'dynamite_samples_rejected_total') - metricSum(before, 'dynamite_samples_rejected_total') >= 2 ? metrics : null;
    }, 10_000, 'two more rejected samples');
    const reasons = [...after.keys()].filter((k) => k.startsWith('dynamite_samples_rejected_total{')).map((k) => /reason="([^"]+)"/.exec(k)![1]);
    assert.ok(reasons.length >= 1, reasons.join());
  });

  test('fleet down: dynamite_dependency_up{dependency="fleet"} 0, actual instances absent, the rest still served', async () => {
    await env.stopEmulator();
    // The gauges are at most a second old: the next refresh sees fleet gone.
    const { metrics } = await waitFor(async () => {
      const s = await scrape(env);
      return s.metrics.get('dynamite_dependency_up{dependency="fleet"}') === 0 ? s : null;
    }, 5_000, 'dynamite_dependency_up{dependency="fleet"} 0');
    assert.equal(metrics.get('dynamite_dependency_up{dependency="fleet"}'), 0);
    assert.equal(metrics.get('dynamite_scrape_errors{source="fleet"}'), 1);
    assert.equal(metrics.has('dynamite_instances_actual{service="web"}'), false);
    assert.equal(metrics.get('dynamite_instances_desired{service="web"}'), 2);
    assert.equal(metrics.get('dynamite_dependency_up{dependency="etcd"}'), 1);
  });
});
