import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatConfigError,
  parseConfig,
  parseConfigJson,
  policyDirection,
  servicesUsingPolicy,
  type DynamiteConfig,
} from '@dynamite/domain';
import { expectErrors as errors, expectValid as ok } from './support';

const POLICY = (extra = '') => `
      service_type: webserver
      metric: cpu_user
      comparative_operator: gt
      threshold: 80
      period: 30
      period_unit: second
      cooldown_period: 1
      cooldown_period_unit: minute${extra}`;

const MINIMAL = `
Dynamite:
  ETCD:
    application_base_path: /services/
    metrics_base_path: /metrics
  Service:
    web:
      name_of_unit_file: web@.service
      max_instance: 3
      base_instance_prefix_number: 8080
      attached_service: [web_disc]
      scale_up_policy:
        ScalingPolicy: up
    web_disc:
      name_of_unit_file: web_disc@.service
      type: attached_service
    lb:
      name_of_unit_file: lb.service
  ScalingPolicy:
    up:${POLICY()}
`;


const warnings = (config: DynamiteConfig) => config.warnings.map(formatConfigError);
const service = (config: DynamiteConfig, name: string) => config.services.find((s) => s.name === name)!;

describe('defaults', () => {
  const config = ok(parseConfig(MINIMAL));

  test('services keep file order and get the original defaults', () => {
    assert.deepEqual(config.services.map((s) => s.name), ['web', 'web_disc', 'lb']);
    assert.deepEqual(service(config, 'web'), {
      name: 'web',
      unitFile: 'web@.service',
      isTemplate: true,
      type: null,
      isAttached: false,
      minInstance: 1,
      maxInstance: 3,
      basePort: 8080,
      portsPerInstance: 1,
      attachedServices: ['web_disc'],
      serviceDependency: [],
      scaleUpPolicies: ['up'],
      scaleDownPolicies: [],
      scaleUpStep: 1,
      scaleDownStep: 1,
      dryRun: false,
    });
  });

  test('attached services start at 0 and count their parents\' maxima', () => {
    const disc = service(config, 'web_disc');
    assert.equal(disc.isAttached, true);
    assert.equal(disc.minInstance, 0);
    assert.equal(disc.maxInstance, 3);
    assert.equal(disc.basePort, null);
  });

  test('a non-template service has exactly one instance', () => {
    const lb = service(config, 'lb');
    assert.equal(lb.isTemplate, false);
    assert.equal(lb.minInstance, 1);
    assert.equal(lb.maxInstance, 1);
  });

  test('policies: durations in ms, stale_after 60 s, metric split at its first dot', () => {
    assert.deepEqual(config.policies, [
      {
        name: 'up',
        serviceType: 'webserver',
        metric: 'cpu_user',
        metricDir: 'cpu_user',
        valuePath: null,
        aggregated: false,
        operator: 'gt',
        threshold: 80,
        thresholdUnit: null,
        periodMs: 30_000,
        cooldownMs: 60_000,
        staleAfterMs: 60_000,
      },
    ]);
    const dotted = ok(parseConfig(MINIMAL.replace('metric: cpu_user', 'metric: response_time.time_backend_response.p95')));
    assert.equal(dotted.policies[0]!.metricDir, 'response_time');
    assert.equal(dotted.policies[0]!.valuePath, 'time_backend_response.p95');
  });

  test('engine settings, etcd paths without trailing slash, no fleet endpoint, the raw document', () => {
    assert.deepEqual(config.engine, { metricsRetentionMs: 600_000, reconcileIntervalMs: 10_000 });
    assert.deepEqual(config.etcd, { applicationBasePath: '/services', metricsBasePath: '/metrics' });
    assert.equal(config.fleetEndpoint, null);
    assert.deepEqual(config.serviceFolders, []);
    assert.ok((config.raw as { Dynamite?: unknown }).Dynamite);
  });

  test('new keys: stale_after per policy and the Engine section', () => {
    const text = MINIMAL.replace('cooldown_period_unit: minute', 'cooldown_period_unit: minute\n      stale_after: 2\n      stale_after_unit: minute').replace(
      'Dynamite:\n',
      'Dynamite:\n  Engine:\n    metrics_retention: 1\n    metrics_retention_unit: hour\n    reconcile_interval: 500\n    reconcile_interval_unit: second\n',
    );
    const c = ok(parseConfig(text));
    assert.equal(c.policies[0]!.staleAfterMs, 120_000);
    assert.deepEqual(c.engine, { metricsRetentionMs: 3_600_000, reconcileIntervalMs: 500_000 });
  });

  test('missing ETCD paths fall back to /services and /metrics, with a warning each', () => {
    const c = ok(parseConfig(MINIMAL.replace(/  ETCD:\n.*\n.*\n/, '')));
    assert.deepEqual(c.etcd, { applicationBasePath: '/services', metricsBasePath: '/metrics' });
    assert.deepEqual(
      warnings(c).filter((w) => w.startsWith('ETCD')),
      ['ETCD.application_base_path: not given; using "/services"', 'ETCD.metrics_base_path: not given; using "/metrics"'],
    );
  });

  test('cooldown 0 and negative thresholds are allowed', () => {
    const c = ok(parseConfig(MINIMAL.replace('cooldown_period: 1', 'cooldown_period: 0').replace('threshold: 80', 'threshold: -4.5')));
    assert.equal(c.policies[0]!.cooldownMs, 0);
    assert.equal(c.policies[0]!.threshold, -4.5);
  });
});

describe('the original format', () => {
  test('accepted without the Dynamite: root, as in the README snippets; raw gets the root', () => {
    const body = MINIMAL.replace('Dynamite:\n', '').replace(/^ {2}/gm, '');
    const c = ok(parseConfig(body));
    assert.deepEqual(c.services.map((s) => s.name), ['web', 'web_disc', 'lb']);
    assert.deepEqual(Object.keys(c.raw as object), ['Dynamite']);
  });

  test('legacy keys are accepted with a warning each, and do nothing', () => {
    const text = `
Dynamite:
  UnitFiles: [/old]
  FleetAPIEndpoint:
    IP: 10.0.0.1
    Port: 1234
  ETCD:
    ip_api_endpoint: 127.0.0.1
    port_api_endpoint: 4001
    application_base_path: /services
    metrics_base_path: /metrics
  Service:
    web:
      name_of_unit_file: web@.service
      unit_is_template: true
      etcd_path: /x
      service_announcer: web_disc
      max_instance: 2
      base_instance_prefix_number: 8080
      service_dependency: [lb]
      scale_up_policy:
        ScalingPolicy: up
    lb:
      name_of_unit_file: lb.service
  ScalingPolicy:
    up:${POLICY('\n      treshold_unit: percent')}
`;
    const c = ok(parseConfig(text));
    assert.deepEqual(warnings(c), [
      'ETCD.ip_api_endpoint: ignored; the etcd endpoint is given with --etcd_endpoint',
      'ETCD.port_api_endpoint: ignored; the etcd endpoint is given with --etcd_endpoint',
      'FleetAPIEndpoint.IP: legacy spelling, ignored; the original read only "ip"',
      'FleetAPIEndpoint.Port: legacy spelling, ignored; the original read only "port"',
      'ScalingPolicy.up.treshold_unit: legacy misspelling of threshold_unit (documentation only); rename it to threshold_unit',
      'Service.web.etcd_path: legacy key, ignored',
      'Service.web.service_announcer: legacy key, ignored; announcers are listed under attached_service',
      'Service.web.service_dependency: has no effect (as in the original): services are not started in dependency order',
      'Service.web.unit_is_template: legacy key, ignored; a service is a template when name_of_unit_file contains "@"',
      'UnitFiles: legacy key, ignored; unit file folders are listed under ServiceFiles.PathList',
    ]);
    assert.equal(c.fleetEndpoint, null);
    assert.deepEqual(service(c, 'web').serviceDependency, ['lb']);
    assert.equal(c.policies[0]!.thresholdUnit, 'percent');
  });

  test('the legacy metric: {service, name} form', () => {
    const text = MINIMAL.replace('      service_type: webserver\n      metric: cpu_user\n', '      metric:\n        service: webserver\n        name: cpu_user\n');
    const c = ok(parseConfig(text));
    assert.equal(c.policies[0]!.metric, 'cpu_user');
    assert.equal(c.policies[0]!.serviceType, 'webserver');
    assert.ok(warnings(c).some((w) => w.startsWith('ScalingPolicy.up.metric: legacy form')));
  });

  test('YAML 1.1 booleans as PyYAML reads them, in any case, quoted or not', () => {
    for (const [word, expected] of [
      ['yes', true], ['Yes', true], ['ON', true], ['True', true], ['"on"', true], ["'YES'", true],
      ['no', false], ['Off', false], ['FALSE', false], ['"no"', false], ['"NO"', false],
    ] as const) {
      const c = ok(parseConfig(MINIMAL.replace('comparative_operator: gt', `comparative_operator: gt\n      metric_aggregated: ${word}`)));
      assert.equal(c.policies[0]!.aggregated, expected, word);
    }
  });

  test('PyYAML reads `y`, `n` as text, not booleans (js-yaml\'s YAML 1.1 would not)', () => {
    const c = ok(parseConfig(MINIMAL.replace('    lb:\n      name_of_unit_file: lb.service', '    y:\n      name_of_unit_file: lb.service')));
    assert.ok(c.services.some((s) => s.name === 'y'));
    const bad = errors(parseConfig(MINIMAL.replace('comparative_operator: gt', 'comparative_operator: gt\n      metric_aggregated: y')));
    assert.deepEqual(bad, ['ScalingPolicy.up.metric_aggregated: must be true or false (got "y")']);
  });

  test('numbers given as text are numbers (the original did float(x)); YAML 1.1 octal too', () => {
    const text = MINIMAL.replace('max_instance: 3', 'max_instance: "3"')
      .replace('base_instance_prefix_number: 8080', "base_instance_prefix_number: ' 8080 '")
      .replace('threshold: 80', 'threshold: "1e1"')
      .replace('period: 30', 'period: "1_0"')
      .replace('cooldown_period: 1', 'cooldown_period: 010');
    const c = ok(parseConfig(text));
    assert.equal(service(c, 'web').maxInstance, 3);
    assert.equal(service(c, 'web').basePort, 8080);
    assert.equal(c.policies[0]!.threshold, 10);
    assert.equal(c.policies[0]!.periodMs, 10_000);
    assert.equal(c.policies[0]!.cooldownMs, 8 * 60_000);
  });

  test('FleetAPIEndpoint ip and port', () => {
    const c = ok(parseConfig(MINIMAL.replace('Dynamite:\n', 'Dynamite:\n  FleetAPIEndpoint:\n    ip: 127.0.0.1\n    port: "49153"\n')));
    assert.deepEqual(c.fleetEndpoint, { ip: '127.0.0.1', port: 49153 });
  });
});

describe('errors', () => {
  test('an unknown key suggests the closest known one', () => {
    assert.deepEqual(errors(parseConfig(MINIMAL.replace('max_instance: 3', 'max_instance: 3\n      min_instances: 1'))), [
      'Service.web.min_instances: unknown key; did you mean "min_instance"?',
    ]);
    assert.deepEqual(errors(parseConfig(MINIMAL.replace('\n  ScalingPolicy:\n', '\n  ScalingPolicys:\n'))), [
      'ScalingPolicys: unknown key; did you mean "ScalingPolicy"?',
      'Service.web.scale_up_policy.ScalingPolicy: unknown policy "up"',
    ]);
    assert.deepEqual(errors(parseConfig(MINIMAL.replace('max_instance: 3', 'max_instance: 3\n      colour: blue'))), ['Service.web.colour: unknown key']);
  });

  test('every error is reported at once, across sections and entries', () => {
    const text = `
Dynamite:
  FleetAPIEndpoint:
    ip: 127.0.0.1
    port: 0
  Service:
    a:
      name_of_unit_file: a@.service
      min_instance: -1
      max_instance: 2
      base_instance_prefix_number: 8000
      attached_service: [ghost]
      scale_up_policy: {ScalingPolicy: nope}
    b:
      name_of_unit_file: b@.service
      max_instance: 2
      base_instance_prefix_number: 8001
    b:
      name_of_unit_file: b@.service
      max_instance: 2
      base_instance_prefix_number: 8001
  ScalingPolicy:
    p:
      service_type: s
      metric: m
      comparative_operator: eq
      threshold: 1
      period: -5
      period_unit: fortnight
      cooldown_period: 1
      cooldown_period_unit: minute
`;
    assert.deepEqual(errors(parseConfig(text)), [
      'FleetAPIEndpoint.port: must be a port number from 1 to 65535 (got 0)',
      'ScalingPolicy.p.comparative_operator: unknown operator "eq"; must be lt (below the threshold) or gt (above it)',
      'ScalingPolicy.p.period: must be a positive number (got -5)',
      'ScalingPolicy.p.period_unit: unknown unit "fortnight"; must be second, minute or hour',
      'Service.a.attached_service[0]: unknown service "ghost"',
      'Service.a.min_instance: must be zero or a positive whole number (got -1)',
      'Service.a.scale_up_policy.ScalingPolicy: unknown policy "nope"',
      'Service.b: service "b" is defined twice (lines 14 and 18)',
      'Service.b.base_instance_prefix_number: ports 8001-8002 overlap ports 8000-8001 of service "a"',
    ]);
  });

  test('ports_per_instance widens the port range: [base, base + max x ports - 1]', () => {
    const two = (apiBase: number) => `
Service:
  web:
    name_of_unit_file: web@.service
    max_instance: 2
    base_instance_prefix_number: 8080
    ports_per_instance: 2
  api:
    name_of_unit_file: api@.service
    max_instance: 1
    base_instance_prefix_number: ${apiBase}
`;
    const c = ok(parseConfig(two(8084)));
    assert.equal(service(c, 'web').portsPerInstance, 2);
    assert.deepEqual(errors(parseConfig(two(8083))), [
      'Service.api.base_instance_prefix_number: port 8083 overlap ports 8080-8083 of service "web"',
    ]);
  });

  test('YAML syntax errors: one error with line and column', () => {
    assert.deepEqual(errors(parseConfig('Dynamite:\n  Service: [a,\n', { source: 'cfg.yaml' })), [
      'cfg.yaml:3:1: YAML syntax error: deficient indentation',
    ]);
  });

  test('duplicate keys at any depth are named by path and lines', () => {
    const text = MINIMAL.replace('max_instance: 3', 'max_instance: 3\n      max_instance: 4').replace('period: 30', 'period: 30\n      period: 31');
    assert.deepEqual(errors(parseConfig(text)), [
      'ScalingPolicy.up.period: key is given twice (lines 26 and 27); the second value would silently win',
      'Service.web.max_instance: key is given twice (lines 9 and 10); the second value would silently win',
    ]);
  });
});

describe('warnings', () => {
  test('an unused policy, an attached service nobody attaches, keys outside the root', () => {
    const text = `${MINIMAL}  ScalingPolicy2: {}\n`.replace('    up:', `    spare:${POLICY()}\n    up:`).replace('    lb:', '    orphan:\n      name_of_unit_file: orphan@.service\n      type: attached_service\n    lb:');
    const outside = text.replace('  ScalingPolicy2: {}\n', '') + 'Other: 1\n';
    const c = ok(parseConfig(outside));
    assert.deepEqual(warnings(c), [
      'Other: ignored: outside the Dynamite: root',
      'ScalingPolicy.spare: not used by any service',
      'Service.orphan: typed attached_service but no service attaches it, so it is never started',
    ]);
  });
});

describe('the copy stored in etcd', () => {
  test('JSON.stringify(config.raw) parses back to the same config', () => {
    const c = ok(parseConfig(MINIMAL));
    const again = ok(parseConfigJson(JSON.stringify(c.raw)));
    assert.deepEqual(again, c);
  });

  test('bad JSON is one error', () => {
    const result = parseConfigJson('{"Dynamite": ', { source: '/_dynamite/init/application_configuration' });
    assert.equal(result.ok, false);
    assert.match(errors(result)[0]!, /^\/_dynamite\/init\/application_configuration: not valid JSON: /);
  });
});

describe('policy helpers', () => {
  const c = ok(parseConfig(MINIMAL.replace('    lb:\n      name_of_unit_file: lb.service', '    api:\n      name_of_unit_file: api@.service\n      max_instance: 1\n      base_instance_prefix_number: 9000\n      scale_down_policy: {ScalingPolicy: up}')));

  test('servicesUsingPolicy lists every use with its direction', () => {
    assert.deepEqual(servicesUsingPolicy(c, 'up'), [
      { service: 'web', direction: 'up' },
      { service: 'api', direction: 'down' },
    ]);
    assert.deepEqual(servicesUsingPolicy(c, 'none'), []);
  });

  test('policyDirection', () => {
    assert.equal(policyDirection(c, 'web', 'up'), 'up');
    assert.equal(policyDirection(c, 'api', 'up'), 'down');
    assert.equal(policyDirection(c, 'web_disc', 'up'), null);
    assert.equal(policyDirection(c, 'nobody', 'up'), null);
  });
});
