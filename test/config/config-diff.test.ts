import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { diffConfigs, formatConfigDiff, formatConfigError, isEmptyDiff, parseConfig, type DynamiteConfig } from '@dynamite/domain';

function config(opts: {
  webMax?: number; threshold?: number | string; cooldown?: number; upPolicy?: string; extraService?: string; extraPolicy?: string;
  engine?: string; notifications?: string; quoted?: boolean;
} = {}): DynamiteConfig {
  const text = `
Dynamite:
  ETCD:
    application_base_path: /services
    metrics_base_path: /metrics
${opts.engine ?? ''}
  Service:
    web:
      name_of_unit_file: web@.service
      max_instance: ${opts.webMax ?? 4}
      base_instance_prefix_number: 8080
      attached_service: [web_disc]
      scale_up_policy:
        ScalingPolicy: ${opts.upPolicy ?? 'web_up'}
      scale_down_policy:
        ScalingPolicy: web_down
    web_disc:
      name_of_unit_file: web_disc@.service
      type: attached_service
${opts.extraService ?? ''}
  ScalingPolicy:
    web_up:
      service_type: webserver
      metric: cpu_user
      comparative_operator: gt
      threshold: ${opts.threshold ?? 80}
      period: 30
      period_unit: second
      cooldown_period: ${opts.cooldown ?? 60}
      cooldown_period_unit: second
    web_up_fast:
      service_type: webserver
      metric: cpu_user
      comparative_operator: gt
      threshold: 90
      period: 5
      period_unit: second
      cooldown_period: 60
      cooldown_period_unit: second
    web_down:
      service_type: webserver
      metric: cpu_user
      comparative_operator: lt
      threshold: 10
      period: 30
      period_unit: second
      cooldown_period: 60
      cooldown_period_unit: second
${opts.extraPolicy ?? ''}
${opts.notifications ?? ''}
`;
  const parsed = parseConfig(text);
  if (!parsed.ok) assert.fail(parsed.errors.map(formatConfigError).join('\n'));
  return parsed.config;
}

const API = `    api:
      name_of_unit_file: api@.service
      max_instance: 2
      base_instance_prefix_number: 9000`;

describe('config diff', () => {
  test('the same config, or the same values written another way, is no change', () => {
    assert.ok(isEmptyDiff(diffConfigs(config(), config())));
    assert.ok(isEmptyDiff(diffConfigs(config(), config({ threshold: '"80"' }))), 'threshold "80" is 80');
    assert.deepEqual(formatConfigDiff(diffConfigs(config(), config())), []);
  });

  test('services added, removed and changed key by key; a changed maximum is no change of the attached service', () => {
    const diff = diffConfigs(config({ extraService: API }), config({ webMax: 6 }));
    assert.deepEqual(diff.services.added, []);
    assert.deepEqual(diff.services.removed, ['api']);
    assert.deepEqual(diff.services.changed, [{ name: 'web', changes: [{ path: 'Service.web.max_instance', before: 4, after: 6 }] }]);
    assert.deepEqual(diff.droppedPairs, []);
    assert.deepEqual(formatConfigDiff(diff), [
      '- Service.api: removed (no longer managed; its units are left running unless pruned)',
      '~ Service.web.max_instance: 4 -> 6',
    ]);
    assert.deepEqual(diffConfigs(config(), config({ extraService: API })).services.added, ['api']);
  });

  test('a policy whose evaluation changed restarts the machines of every pair using it; a cooldown change keeps them', () => {
    const threshold = diffConfigs(config(), config({ threshold: 40 }));
    assert.deepEqual(threshold.policies.changed, [{ name: 'web_up', changes: [{ path: 'ScalingPolicy.web_up.threshold', before: 80, after: 40 }], restartsMachines: true }]);
    assert.deepEqual(threshold.restartedPairs, [{ service: 'web', policy: 'web_up' }]);
    assert.deepEqual(threshold.droppedPairs, []);
    assert.deepEqual(formatConfigDiff(threshold), [
      '~ ScalingPolicy.web_up.threshold: 80 -> 40',
      '    ScalingPolicy.web_up: its state machines start over (running cooldowns are kept)',
    ]);

    const cooldown = diffConfigs(config(), config({ cooldown: 120 }));
    assert.equal(cooldown.policies.changed[0]!.restartsMachines, false);
    assert.deepEqual(cooldown.restartedPairs, []);
    assert.deepEqual(formatConfigDiff(cooldown)[1], '    ScalingPolicy.web_up: its state machines and cooldowns are kept');
  });

  test('a service that switches policies drops the state of the old pair; the new pair starts fresh', () => {
    const diff = diffConfigs(config(), config({ upPolicy: 'web_up_fast' }));
    assert.deepEqual(diff.droppedPairs, [{ service: 'web', policy: 'web_up' }]);
    assert.deepEqual(diff.restartedPairs, []);
    assert.deepEqual(formatConfigDiff(diff), [
      '~ Service.web.scale_up_policy.ScalingPolicy: web_up -> web_up_fast',
      '    Service.web: no longer uses web_up; its state for it is dropped',
    ]);
  });

  test('other sections key by key; secrets are never shown', () => {
    const hooks = (secret: string, url: string) => `  Notifications:\n    webhooks:\n      ops:\n        url: ${url}\n        secret: ${secret}\n`;
    const diff = diffConfigs(
      config({ notifications: hooks('0123456789abcdef', 'https://a.example/') }),
      config({ notifications: hooks('fedcba9876543210', 'https://b.example/'), engine: '  Engine:\n    reconcile_interval: 5' }),
    );
    assert.deepEqual(formatConfigDiff(diff), [
      '+ Engine: {"reconcile_interval":5}',
      '~ Notifications.webhooks.ops.url: https://a.example/ -> https://b.example/',
      '~ Notifications.webhooks.ops.secret: (hidden, changed)',
    ]);
    assert.ok(!formatConfigDiff(diff).join('\n').includes('0123456789abcdef'));
  });
});
