import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT, lines, runDynamite } from './support';

/**
 * Each file in test/fixtures/configs/broken/ is test/fixtures/configs/valid.yaml with ONE fault. Each is run
 * through the real `dynamite validate` and must exit 2 with exactly these lines on stderr (`{file}` is the
 * path given to -c, `{root}` the repository root, `{units}` the unit folder given to -s), and no stack trace.
 */
const EXPECTED: Record<string, string[]> = {
  'yaml-syntax': ['{file}:15:6: YAML syntax error: bad indentation of a mapping entry'],
  empty: ['{file}: the config is empty'],
  'not-a-mapping': ['(root): must be a mapping with the Dynamite: sections (got a list)'],
  'root-misspelt': ['dynamite: unknown key; did you mean "Dynamite"?'],
  'root-not-a-mapping': ['Dynamite: must be a mapping (got a list)'],
  'unknown-section': ['Services: unknown key; did you mean "Service"?'],
  'unknown-service-key': [
    'Service.web.max_instance: is required for a template service (web@.service)',
    'Service.web.max_instances: unknown key; did you mean "max_instance"?',
  ],
  'unknown-policy-key': [
    'ScalingPolicy.web_up.threshhold: unknown key; did you mean "threshold"?',
    'ScalingPolicy.web_up.threshold: is required',
  ],
  'duplicate-service': ['Service.lb: service "lb" is defined twice (lines 33 and 36)'],
  'duplicate-policy': ['ScalingPolicy.web_up: policy "web_up" is defined twice (lines 37 and 59)'],
  'duplicate-key': ['Service.web.min_instance: key is given twice (lines 15 and 16); the second value would silently win'],
  'min-instance-not-number': ['Service.web.min_instance: must be zero or a positive whole number (got "two")'],
  'min-instance-negative': ['Service.web.min_instance: must be zero or a positive whole number (got -1)'],
  'max-instance-zero': ['Service.web.max_instance: must be a positive whole number (got 0)'],
  'max-instance-fraction': ['Service.web.max_instance: must be a positive whole number (got 2.5)'],
  'min-above-max': ['Service.web.min_instance: must not exceed max_instance (5 > 4)'],
  'template-without-max': ['Service.api.max_instance: is required for a template service (api@.service)'],
  'template-without-base-port': ['Service.api.base_instance_prefix_number: is required for a template service (api@.service): the first port'],
  'non-template-min-two': ['Service.lb.min_instance: a non-template service (lb.service) runs at most one instance (got 2)'],
  'template-name-malformed': ['Service.api.name_of_unit_file: "api@9000.service" is not a template unit file name; a template looks like "api@.service"'],
  'base-port-out-of-range': ['Service.api.base_instance_prefix_number: must be a port number from 1 to 65535 (got 70000)'],
  'port-range-past-65535': ['Service.api.base_instance_prefix_number: ports 65535-65536 (max_instance 2 x ports_per_instance 1) go past port 65535'],
  'ports-overlap': ['Service.api.base_instance_prefix_number: ports 8082-8083 overlap ports 8080-8083 of service "web"'],
  'ports-overlap-ports-per-instance': ['Service.api.base_instance_prefix_number: ports 8086-8087 overlap ports 8080-8087 of service "web"'],
  'unknown-policy-reference': ['Service.web.scale_up_policy.ScalingPolicy: unknown policy "web_upp"; did you mean "web_up"?'],
  'policy-reference-without-key': ['Service.web.scale_up_policy.ScalingPolicy: is required (the name of a policy under ScalingPolicy:)'],
  'policy-reference-not-a-mapping': [
    'Service.web.scale_up_policy: must be a mapping with the key ScalingPolicy (got "web_up"); write ScalingPolicy: <policy name> under it',
  ],
  'same-policy-both-ways': ['Service.web.scale_down_policy: "web_up" is also the scale_up_policy; one policy cannot scale a service both ways'],
  'unknown-attached-service': ['Service.web.attached_service[1]: unknown service "web_logger"'],
  'attached-not-typed': ['Service.web.attached_service[1]: service "lb" is not typed attached_service; add type: attached_service to it'],
  'attached-with-attached': ['Service.web_announcer.attached_service: an attached service cannot have attached services of its own'],
  'attached-with-policy': ['Service.web_announcer.scale_up_policy: an attached service cannot have scaling policies (it follows the instances of its parent)'],
  'attached-not-template': [
    'Service.web.attached_service[0]: service "web_announcer" has a non-template unit (plain_announcer.service), but attached units share their parent\'s instance number, so it must be a template like "web_announcer@.service"',
  ],
  'attached-service-not-a-list': ['Service.web.attached_service: must be a list (got "web_announcer")'],
  'unknown-operator': ['ScalingPolicy.web_up.comparative_operator: unknown operator "ge"; must be lt (below the threshold) or gt (above it)'],
  'unknown-period-unit': ['ScalingPolicy.web_up.period_unit: unknown unit "seconds"; must be second, minute or hour (did you mean "second"?)'],
  'unknown-cooldown-unit': ['ScalingPolicy.web_up.cooldown_period_unit: unknown unit "day"; must be second, minute or hour'],
  'period-negative': ['ScalingPolicy.web_up.period: must be a positive number (got -5)'],
  'period-zero': ['ScalingPolicy.web_up.period: must be a positive number (got 0)'],
  'cooldown-negative': ['ScalingPolicy.web_up.cooldown_period: must be zero or a positive number (got -1)'],
  'threshold-not-number': ['ScalingPolicy.web_up.threshold: must be a number (got "high")'],
  'metric-aggregated-not-boolean': ['ScalingPolicy.web_up.metric_aggregated: must be true or false (got "maybe")'],
  'policy-missing-metric': ['ScalingPolicy.web_up.metric: is required'],
  'policy-missing-period-unit': ['ScalingPolicy.web_up.period_unit: is required'],
  'stale-after-zero': ['ScalingPolicy.web_up.stale_after: must be a positive number (got 0)'],
  'engine-unknown-unit': ['Engine.metrics_retention_unit: unknown unit "day"; must be second, minute or hour'],
  'fleet-port-out-of-range': ['FleetAPIEndpoint.port: must be a port number from 1 to 65535 (got 99999)'],
  'fleet-ip-without-port': ['FleetAPIEndpoint.port: is required when ip is given'],
  'etcd-path-relative': ['ETCD.metrics_base_path: must be an absolute etcd path starting with "/" (got "metrics")'],
  'non-template-unit-shared': ['Service.lb2.name_of_unit_file: "lb.service" is already the unit of service "lb"; a non-template unit is a single fleet unit'],
  'service-section-a-list': ['Service: must be a mapping of service names to their settings (got a list)'],
  'service-name-with-slash': ['Service."lb/main": service name "lb/main" may only contain letters, digits, ":", "_", ".", "-" (it becomes unit names, etcd keys and URLs)'],
  'path-list-missing-folder': ['ServiceFiles.PathList[0]: folder "does-not-exist" ({root}/does-not-exist) does not exist'],
  'unit-file-not-found': ['Service.lb.name_of_unit_file: unit file "haproxy.service" not found in {units}'],
  'unit-file-unparseable': [
    'Service.lb.name_of_unit_file: unit file {units}/unparseable.service cannot be parsed: unexpected newline encountered while parsing option name',
  ],
};

const BROKEN = join(FIXTURES, 'broken');
const UNITS = join(FIXTURES, 'units');

test('every broken fixture has an expectation, and every expectation a fixture (at least 30)', () => {
  const files = readdirSync(BROKEN).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
  assert.ok(files.length >= 30, `only ${files.length} broken fixtures`);
});

test('the valid base of the broken fixtures passes', async () => {
  const run = await runDynamite(['validate', '-c', 'test/fixtures/configs/valid.yaml', '-s', UNITS]);
  assert.equal(run.stderr, '');
  assert.equal(run.stdout, 'ok\n');
  assert.equal(run.code, 0);
});

describe('dynamite validate names the one fault of each broken config', { concurrency: 4 }, () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    test(name, async () => {
      const file = `test/fixtures/configs/broken/${name}.yaml`;
      const run = await runDynamite(['validate', '-c', file, '-s', UNITS]);
      const want = expected.map(
        (line) => `error: ${line.replaceAll('{file}', file).replaceAll('{root}', ROOT).replaceAll('{units}', UNITS)}`,
      );
      assert.equal(run.code, 2, `exit code; stderr:\n${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.doesNotMatch(run.stderr, /^\s+at /m, 'a stack trace');
      assert.deepEqual(lines(run.stderr), want);
    });
  }
});
