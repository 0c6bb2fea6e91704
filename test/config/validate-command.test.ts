import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, lines, runDynamite } from './support';

const temp = mkdtempSync(join(tmpdir(), 'dynamite-validate-'));
after(() => rmSync(temp, { recursive: true, force: true }));

test('the apache example validates: `ok` on stdout, nothing on stderr, exit 0', async () => {
  const run = await runDynamite(['validate', '-c', 'examples/apache/dynamite.yaml', '-s', 'examples/apache/units']);
  assert.equal(run.stderr, '');
  assert.equal(run.stdout, 'ok\n');
  assert.equal(run.code, 0);
});

test('long flag names work as in the original', async () => {
  const run = await runDynamite(['validate', '--config_file', 'examples/apache/dynamite.yaml', '--service_folder', 'examples/apache/units']);
  assert.equal(run.stdout, 'ok\n');
  assert.equal(run.code, 0);
});

test('warnings go to stderr, prefixed `warning: `, and the config is still ok', async () => {
  const config = join(temp, 'legacy.yaml');
  writeFileSync(
    config,
    [
      'Dynamite:',
      '  ETCD:',
      '    ip_api_endpoint: 127.0.0.1',
      '    metrics_base_path: /metrics',
      '  Service:',
      '    lb:',
      '      name_of_unit_file: lb.service',
      '      unit_is_template: no',
      '',
    ].join('\n'),
  );
  const run = await runDynamite(['validate', '-c', config, '-s', join(FIXTURES, 'units')]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'ok\n');
  assert.deepEqual(lines(run.stderr), [
    'warning: ETCD.application_base_path: not given; using "/services"',
    'warning: ETCD.ip_api_endpoint: ignored; the etcd endpoint is given with --etcd_endpoint',
    'warning: Service.lb.unit_is_template: legacy key, ignored; a service is a template when name_of_unit_file contains "@"',
  ]);
});

test('a missing config file: one error naming it, exit 2, no stack trace', async () => {
  const run = await runDynamite(['validate', '-c', 'no/such/config.yaml']);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /^error: no\/such\/config\.yaml: config file not found \(.*no\/such\/config\.yaml\)\n$/);
});

test('several faults: every one is printed, one per line', async () => {
  const config = join(temp, 'many.yaml');
  writeFileSync(
    config,
    [
      'Service:',
      '  web:',
      '    name_of_unit_file: web@.service',
      '    max_instance: 0',
      '    base_instance_prefix_number: 8080',
      '    scale_up_policy: {ScalingPolicy: up}',
      'ScalingPolicy:',
      '  down:',
      '    service_type: webserver',
      '    metric: cpu_user',
      '    comparative_operator: lt',
      '    threshold: 10',
      '    period: 30',
      '    period_unit: sec',
      '    cooldown_period: 1',
      '    cooldown_period_unit: minute',
      '',
    ].join('\n'),
  );
  const run = await runDynamite(['validate', '-c', config, '-s', join(FIXTURES, 'units')]);
  assert.equal(run.code, 2);
  assert.deepEqual(lines(run.stderr), [
    'error: ScalingPolicy.down.period_unit: unknown unit "sec"; must be second, minute or hour (did you mean "second"?)',
    'error: Service.web.max_instance: must be a positive whole number (got 0)',
    'error: Service.web.scale_up_policy.ScalingPolicy: unknown policy "up"',
  ]);
});

test('a flapping config (up and down thresholds of one service overlap on one metric): a warning, still ok', async () => {
  const config = join(temp, 'flapping.yaml');
  const policy = (op: string, threshold: number) => [
    '      service_type: webserver', '      metric: cpu_user', `      comparative_operator: ${op}`, `      threshold: ${threshold}`,
    '      period: 30', '      period_unit: second', '      cooldown_period: 1', '      cooldown_period_unit: minute',
  ];
  writeFileSync(config, [
    'Dynamite:',
    '  ETCD:',
    '    application_base_path: /services',
    '    metrics_base_path: /metrics',
    '  Service:',
    '    web:',
    '      name_of_unit_file: web@.service',
    '      max_instance: 3',
    '      base_instance_prefix_number: 8080',
    '      scale_up_policy:',
    '        ScalingPolicy: up',
    '      scale_down_policy:',
    '        ScalingPolicy: down',
    '  ScalingPolicy:',
    '    up:', ...policy('gt', 60),
    '    down:', ...policy('lt', 70),
    '',
  ].join('\n'));
  const run = await runDynamite(['validate', '-c', config, '-s', join(FIXTURES, 'units')]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'ok\n');
  assert.deepEqual(lines(run.stderr), [
    'warning: Service.web.scale_down_policy: "down" (cpu_user lt 70) and the scale-up policy "up" (cpu_user gt 60) both hold for every value between 60 and 70 of webserver: the service would scale up and down on the same samples (flapping)',
  ]);
});
