import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineHarness, sampleStream, waitFor } from '../support/engine-harness';
import { engineConfigHead } from '../support/config-text';

// Several scale-up policies (any may scale up) and one scale-down policy that waits while a scale-up window is armed
// (the safe side wins); scale_up_step 2: one fire creates two instances in one decision, two actions.
const policy = (metric: string, operator: 'gt' | 'lt', threshold: number, period: number, aggregated = false) => `
      service_type: webserver
      metric: ${metric}
      metric_aggregated: ${aggregated}
      comparative_operator: ${operator}
      threshold: ${threshold}
      period: ${period}
      period_unit: second
      cooldown_period: 2
      cooldown_period_unit: second`;

const CONFIG = `
${engineConfigHead({ reconcile_interval: 2, reconcile_interval_unit: 'second' })}  Service:
    web:
      name_of_unit_file: web@.service
      type: webserver
      min_instance: 1
      max_instance: 5
      base_instance_prefix_number: 8080
      scale_up_step: 2
      scale_up_policy:
        - ScalingPolicy: cpu_up
        - ScalingPolicy: queue_up
        - ScalingPolicy: latency_up
      scale_down_policy:
        - ScalingPolicy: cpu_down
  ScalingPolicy:
    cpu_up:${policy('cpu_user', 'gt', 80, 1)}
    queue_up:${policy('queue', 'gt', 100, 1, true)}
    latency_up:${policy('latency', 'gt', 100, 60, true)}
    cpu_down:${policy('cpu_user', 'lt', 10, 1)}
`;
const UNITS = { 'web@.service': '[Unit]\nDescription=web %i\n\n[Service]\nExecStart=/bin/sleep 600\n' };

type Rec = { id: string; policy: string | null; outcome: string; reason: string | null; message: string; action: { instance: string; kind: string } | null; actions?: { instance: string }[] };

describe('several policies per service, and steps', () => {
  let h: EngineHarness;

  before(async () => {
    h = await EngineHarness.start({ suite: 'policies', config: CONFIG, units: UNITS });
    h.spawn('scheduler');
    h.spawn('worker', ['--concurrency', '4']);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'web@8080 launched', h);
  });
  after(async () => { await h.stop(); });

  const records = async (outcome: string, reason?: string): Promise<Rec[]> =>
    ((await h.decisions('web')) as unknown as Rec[]).filter((d) => d.outcome === outcome && (reason === undefined || d.reason === reason));

  test('cpu_up fires: one decision creates two instances (scale_up_step 2), two actions with ids <decision> and <decision>-2', async () => {
    await h.register('webserver', 'uuid-a', 'web@8080.service');
    const stream = sampleStream(h, 'webserver', 'uuid-a', 'cpu_user', () => 95, 150);
    try {
      await waitFor(async () => {
        const units = await h.launchedUnits();
        return units.includes('web@8081.service') && units.includes('web@8082.service');
      }, 20_000, 'web@8081 and web@8082 launched', h);
    } finally {
      await stream.stop();
    }
    await h.sample('webserver', 'uuid-a', 'cpu_user', 50); // any window of uuid-a disarms
    const [scaled] = await records('scaled', 'cpu_up');
    assert.deepEqual(scaled!.actions?.map((a) => a.instance), ['web@8081.service', 'web@8082.service']);
    assert.equal(scaled!.action?.instance, 'web@8081.service');
    const actions = (await h.actions('web')).filter((a) => a.decisionId.startsWith(scaled!.id)).map((a) => [a.decisionId, a.instance]).sort();
    assert.deepEqual(actions, [[scaled!.id, 'web@8081.service'], [`${scaled!.id}-2`, 'web@8082.service']]);
    assert.equal((await records('scaled')).length, 1);
  });

  test('another scale-up policy (queue_up, an aggregated metric) scales up too, cut short by max_instance', async () => {
    const stream = sampleStream(h, 'webserver', null, 'queue', () => 150, 150);
    try {
      await waitFor(async () => {
        const units = await h.launchedUnits();
        return units.includes('web@8083.service') && units.includes('web@8084.service');
      }, 20_000, 'web@8083 and web@8084 launched', h);
    } finally {
      await stream.stop();
    }
    await h.sample('webserver', null, 'queue', 5);
    const [scaled] = await records('scaled', 'queue_up');
    assert.deepEqual(scaled!.actions?.map((a) => a.instance), ['web@8083.service', 'web@8084.service']);
    assert.equal((await h.launchedUnits()).length, 5);
  });

  test('a scale down waits while a scale-up window is armed: suppressed scale_up_armed, naming it; once it disarms the scale down goes', async () => {
    await h.waitForCooldownsOver('web');
    // latency_up's 60 s window arms and stays armed.
    const t0 = Date.now();
    for (let i = 0; i < 2; i += 1) await h.sample('webserver', null, 'latency', 500, t0 + i);
    await waitFor(async () => {
      const all = await h.etcd.getAll().prefix('/_dynamite/policy/web/latency_up/machine/').json();
      return Object.values(all).some((m) => (m as { state: { armed: unknown } }).state.armed !== null);
    }, 15_000, 'latency_up armed', h);
    await h.register('webserver', 'uuid-e', 'web@8084.service');
    let stream = sampleStream(h, 'webserver', 'uuid-e', 'cpu_user', () => 2, 150);
    try {
      await waitFor(async () => (await records('suppressed', 'scale_up_armed')).length > 0, 20_000, 'a scale_up_armed suppression', h);
    } finally {
      await stream.stop();
    }
    const [held] = await records('suppressed', 'scale_up_armed');
    assert.equal(held!.policy, 'cpu_down');
    assert.match(held!.message, /, but scale-up policy latency_up is armed for web: the safe side wins, no scale down: not scaling down$/);
    assert.ok((await h.launchedUnits()).includes('web@8084.service'));

    await h.sample('webserver', null, 'latency', 20); // latency_up disarms
    stream = sampleStream(h, 'webserver', 'uuid-e', 'cpu_user', () => 2, 150);
    try {
      await waitFor(async () => !(await h.unitNames()).includes('web@8084.service'), 20_000, 'web@8084 removed', h);
    } finally {
      await stream.stop();
    }
    const down = (await records('scaled', 'cpu_down')).map((d) => d.action?.instance);
    assert.deepEqual(down, ['web@8084.service']);
  });
});
