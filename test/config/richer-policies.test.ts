import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatConfigError, parseConfig, policyDirection, routeSample, scaleDownWaitsForScaleUp, servicesUsingPolicy, type DynamiteConfig } from '@dynamite/domain';
import { expectErrors as errors, expectValid as ok } from './support';

// Several scale-up or scale-down policies per service, scale_up_step / scale_down_step, and the flapping warning.
// Each is optional: the original's one {ScalingPolicy: name} per direction means what it meant.

const policy = (metric: string, operator: 'gt' | 'lt', threshold: number, extra = '') => `
      service_type: webserver
      metric: ${metric}
      comparative_operator: ${operator}
      threshold: ${threshold}
      period: 30
      period_unit: second
      cooldown_period: 1
      cooldown_period_unit: minute${extra}`;

function doc(service: string, policies: Record<string, string> = {}): string {
  const all = {
    cpu_up: policy('cpu_user', 'gt', 80),
    cpu_down: policy('cpu_user', 'lt', 10),
    latency_up: policy('response.p95', 'gt', 0.5, '\n      metric_aggregated: true'),
    queue_up: policy('queue', 'gt', 100),
    ...policies,
  };
  return `
Dynamite:
  ETCD:
    application_base_path: /services
    metrics_base_path: /metrics
  Service:
    web:
      name_of_unit_file: web@.service
      type: webserver
      max_instance: 6
      base_instance_prefix_number: 8080
${service.split('\n').map((l) => `      ${l}`).join('\n')}
  ScalingPolicy:
${Object.entries(all).map(([name, body]) => `    ${name}:${body}`).join('\n')}
`;
}

const warnings = (c: DynamiteConfig) => c.warnings.map(formatConfigError);

describe('several policies per direction', () => {
  const listed = `scale_up_policy:
  - ScalingPolicy: cpu_up
  - ScalingPolicy: latency_up
scale_down_policy:
  ScalingPolicy: cpu_down`;

  test('a list of {ScalingPolicy: name} per direction; the original mapping is a list of one', () => {
    const config = ok(parseConfig(doc(listed)));
    const web = config.services[0]!;
    assert.deepEqual([web.scaleUpPolicies, web.scaleDownPolicies], [['cpu_up', 'latency_up'], ['cpu_down']]);
    assert.deepEqual(servicesUsingPolicy(config, 'latency_up'), [{ service: 'web', direction: 'up' }]);
    assert.equal(policyDirection(config, 'web', 'latency_up'), 'up');
    assert.equal(policyDirection(config, 'web', 'queue_up'), null);
    assert.deepEqual(warnings(config).filter((w) => w.includes('queue_up')), ['ScalingPolicy.queue_up: not used by any service']);
    const single = ok(parseConfig(doc('scale_up_policy:\n  ScalingPolicy: cpu_up')));
    assert.deepEqual(single.services[0]!.scaleUpPolicies, ['cpu_up']);
  });

  test('a sample feeds every policy of its metric: each of the service\'s up policies has its own machine', () => {
    const config = ok(parseConfig(doc(`scale_up_policy:
  - ScalingPolicy: cpu_up
  - ScalingPolicy: queue_up
scale_down_policy:
  - ScalingPolicy: cpu_down`)));
    const cpu = routeSample({ kind: 'instance', serviceType: 'webserver', uuid: 'u1', metricDir: 'cpu_user', tsKey: 't', ts: 0 }, config);
    assert.deepEqual(cpu.map((r) => [r.policy, r.direction]), [['cpu_up', 'up'], ['cpu_down', 'down']]);
    const queue = routeSample({ kind: 'instance', serviceType: 'webserver', uuid: 'u1', metricDir: 'queue', tsKey: 't', ts: 0 }, config);
    assert.deepEqual(queue.map((r) => [r.policy, r.direction]), [['queue_up', 'up']]);
  });

  test('the safe side (a scale down waits for armed scale-up windows) applies only beyond the original pair', () => {
    const pair = ok(parseConfig(doc('scale_up_policy:\n  ScalingPolicy: cpu_up\nscale_down_policy:\n  ScalingPolicy: cpu_down')));
    assert.equal(scaleDownWaitsForScaleUp(pair.services[0]!), false);
    assert.equal(scaleDownWaitsForScaleUp(ok(parseConfig(doc(listed))).services[0]!), true);
    const twoDown = ok(parseConfig(doc('scale_up_policy:\n  ScalingPolicy: cpu_up\nscale_down_policy:\n  - ScalingPolicy: cpu_down\n  - ScalingPolicy: other_down', { other_down: policy('queue', 'lt', 1) })));
    assert.equal(scaleDownWaitsForScaleUp(twoDown.services[0]!), true);
    const downOnly = ok(parseConfig(doc('scale_down_policy:\n  - ScalingPolicy: cpu_down\n  - ScalingPolicy: other_down', { other_down: policy('queue', 'lt', 1) })));
    assert.equal(scaleDownWaitsForScaleUp(downOnly.services[0]!), false);
  });

  test('errors name the list item: unknown, listed twice, both ways, not a mapping, unknown key', () => {
    assert.deepEqual(errors(parseConfig(doc(`scale_up_policy:
  - ScalingPolicy: cpu_up
  - ScalingPolicy: cpu_upp
  - ScalingPolicy: cpu_up
  - latency_up
  - {ScalingPolicy: queue_up, Policy: x}
scale_down_policy:
  - ScalingPolicy: cpu_down`))), [
      'Service.web.scale_up_policy[3]: must be a mapping with the key ScalingPolicy (got "latency_up"); write ScalingPolicy: <policy name> under it',
      'Service.web.scale_up_policy[4].Policy: unknown key',
    ]);
    assert.deepEqual(errors(parseConfig(doc('scale_up_policy:\n  - ScalingPolicy: cpu_up\n  - ScalingPolicy: queue_up\nscale_down_policy:\n  - ScalingPolicy: cpu_down\n  - ScalingPolicy: queue_up'))), [
      'Service.web.scale_down_policy[1]: "queue_up" is also a scale_up_policy; one policy cannot scale a service both ways',
    ]);
    assert.deepEqual(errors(parseConfig(doc('scale_up_policy:\n  - ScalingPolicy: cpu_up\n  - ScalingPolicy: cpu_upp\n  - ScalingPolicy: cpu_up'))), [
      'Service.web.scale_up_policy[1].ScalingPolicy: unknown policy "cpu_upp"; did you mean "cpu_up"?',
      'Service.web.scale_up_policy[2]: "cpu_up" is listed twice',
    ]);
    // The original's single form keeps its paths.
    assert.deepEqual(errors(parseConfig(doc('scale_up_policy:\n  ScalingPolicy: cpu_upp'))), [
      'Service.web.scale_up_policy.ScalingPolicy: unknown policy "cpu_upp"; did you mean "cpu_up"?',
    ]);
  });
});

describe('scale_up_step and scale_down_step', () => {
  test('default 1; any whole number from 1', () => {
    const web = ok(parseConfig(doc('scale_up_step: 3\nscale_down_step: 2'))).services[0]!;
    assert.deepEqual([web.scaleUpStep, web.scaleDownStep], [3, 2]);
    const plain = ok(parseConfig(doc(''))).services[0]!;
    assert.deepEqual([plain.scaleUpStep, plain.scaleDownStep], [1, 1]);
    assert.deepEqual(errors(parseConfig(doc('scale_up_step: 0\nscale_down_step: 1.5'))), [
      'Service.web.scale_down_step: must be a positive whole number (got 1.5)',
      'Service.web.scale_up_step: must be a positive whole number (got 0)',
    ]);
    assert.deepEqual(errors(parseConfig(doc('scale_up_stepp: 2'))), ['Service.web.scale_up_stepp: unknown key; did you mean "scale_up_step"?']);
  });
});

describe('validate warns of overlapping up and down thresholds on one metric (a flapping config)', () => {
  const flap = (up: string, down: string) => warnings(ok(parseConfig(doc(`scale_up_policy:\n  ScalingPolicy: up\nscale_down_policy:\n  - ScalingPolicy: down`, { up, down }))))
    .filter((w) => w.includes('flapping'));

  test('gt 80 up with lt 90 down: both hold between 80 and 90', () => {
    assert.deepEqual(flap(policy('cpu_user', 'gt', 80), policy('cpu_user', 'lt', 90)), [
      'Service.web.scale_down_policy[0]: "down" (cpu_user lt 90) and the scale-up policy "up" (cpu_user gt 80) both hold for every value between 80 and 90 of webserver: the service would scale up and down on the same samples (flapping)',
    ]);
  });
  test('the same operator both ways always overlaps', () => {
    assert.match(flap(policy('cpu_user', 'gt', 80), policy('cpu_user', 'gt', 20))[0]!, /both hold for every value above 80 of webserver/);
    assert.match(flap(policy('free', 'lt', 10), policy('free', 'lt', 50))[0]!, /both hold for every value below 10 of webserver/);
  });
  test('no warning when the thresholds leave a gap (strict comparisons: gt 80 and lt 80 never both hold), or the metrics differ', () => {
    assert.deepEqual(flap(policy('cpu_user', 'gt', 80), policy('cpu_user', 'lt', 80)), []);
    assert.deepEqual(flap(policy('cpu_user', 'gt', 80), policy('cpu_user', 'lt', 10)), []);
    assert.deepEqual(flap(policy('free', 'lt', 10), policy('free', 'gt', 50)), []);
    assert.deepEqual(flap(policy('cpu_user', 'gt', 80), policy('cpu_system', 'lt', 90)), []);
  });
});
