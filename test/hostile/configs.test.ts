import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatConfigError, loadConfig } from '@dynamite/config-loader';
import { DURATION_MAX_MS, ENGINE_INTERVAL_MIN_MS, PORT_MAX, STORED_CONFIG_MAX_BYTES, encodeStoredConfig } from '@dynamite/domain';
import { FIXTURES, ROOT, lines, runDynamite } from '../config/support';

/**
 * The hostile config corpus: one case a file in test/hostile/configs/ (the first line says what it tries).
 * Each must give exactly the exit code and stderr lines of `dynamite validate -c FILE -s
 * test/fixtures/configs/units` below (`{file}` is the path given to -c, `{abs}` its absolute path): one line an
 * error, nothing left out. Every case is checked in process through `loadConfig`, the function `validate` runs
 * (a process a case would take over a minute on a busy machine); the cases in CLI_CASES, at least one for each
 * kind of fault, also run through the real `bin/dynamite.js`, which must exit with the code, print the same
 * lines and no stack trace. A case that `validate` accepts must also be one `run` can run: see the last test.
 */

const CASES = join(ROOT, 'test', 'hostile', 'configs');
const UNITS = join(FIXTURES, 'units');

const EXPECTED: Record<string, [number, string[]]> = {
  'alias-bomb-in-a-list-value': [2, [
    'error: Service.web.attached_service[0]: must be text (got a list)',
    'error: Service.web.attached_service[1]: must be text (got a list)',
    'error: Service.web.attached_service[2]: must be text (got a list)',
    'error: Service.web.attached_service[3]: must be text (got a list)',
    'error: Service.web.attached_service[4]: must be text (got a list)',
    'error: Service.web.attached_service[5]: must be text (got a list)',
    'error: Service.web.attached_service[6]: must be text (got a list)',
    'error: Service.web.attached_service[7]: must be text (got a list)',
    'error: Service.web.attached_service[8]: must be text (got a list)',
    'error: lol6: the config is over 32 MiB (33554432 bytes) as JSON; the limit is passed in this part (an alias counts once for every use)',
  ]],
  'alias-bomb-inside-root': [2, [
    'error: Junk: the config is over 32 MiB (33554432 bytes) as JSON; the limit is passed in this part (an alias counts once for every use)',
    'error: Junk: unknown key',
  ]],
  'alias-bomb-outside-root': [2, [
    'error: lol6: the config is over 32 MiB (33554432 bytes) as JSON; the limit is passed in this part (an alias counts once for every use)',
  ]],
  'alias-cycle-mapping': [2, [
    'error: loop: nests lists and mappings more than 100 levels deep, counting what aliases expand to (an alias inside its own anchor nests without end); the config could not be stored in etcd as JSON',
  ]],
  'alias-cycle': [2, [
    'error: loop: nests lists and mappings more than 100 levels deep, counting what aliases expand to (an alias inside its own anchor nests without end); the config could not be stored in etcd as JSON',
  ]],
  'aliases-just-over-32-mib': [2, [
    'error: s2: the config is over 32 MiB (33554432 bytes) as JSON; the limit is passed in this part (an alias counts once for every use)',
  ]],
  'aliases-under-32-mib': [0, [
    'warning: s0: ignored: outside the Dynamite: root',
    'warning: s1: ignored: outside the Dynamite: root',
    'warning: s2: ignored: outside the Dynamite: root',
  ]],
  'attached-name-newline': [2, [
    'error: Service.web.attached_service[0]: unknown service "a\\nb"',
  ]],
  'base-port-0': [2, [
    'error: Service.web.base_instance_prefix_number: must be a port number from 1 to 65535 (got 0)',
  ]],
  'base-port-1e309': [2, [
    'error: Service.web.base_instance_prefix_number: must be a finite number (got "1e309")',
  ]],
  'base-port-65535': [0, [
  ]],
  'base-port-fraction': [2, [
    'error: Service.web.base_instance_prefix_number: must be a port number from 1 to 65535 (got 8080.5)',
  ]],
  'cooldown-10-years-in-hours': [0, [
  ]],
  'cooldown-1e12-minutes': [2, [
    'error: ScalingPolicy.web_up.cooldown_period: must be at most 10 years, which is 5256000 minute (got 1000000000000)',
  ]],
  'cooldown-rounds-to-0': [2, [
    'error: ScalingPolicy.web_up.cooldown_period: must be at least 1 millisecond, or 0 (got 1e-9 second, which is 0 ms)',
  ]],
  'cooldown-zero': [0, [
  ]],
  'encoded-surrogate': [2, [
    'error: {file}: config file is not UTF-8 text: byte 0xed at offset 552 (line 23, byte 3 of the line) does not start a valid UTF-8 character ({abs})',
  ]],
  'fleet-ip-with-path': [2, [
    'error: FleetAPIEndpoint.ip: must be a host name or an IP address (got "127.0.0.1/x?y=1")',
  ]],
  'fleet-ip-ipv6-bare': [2, [
    'error: FleetAPIEndpoint.ip: must be a host name or an IP address (got "::1"); write an IPv6 address in brackets: "[::1]"',
  ]],
  'fleet-ip-ipv6-bracketed': [0, [
  ]],
  'fleet-ip-newline': [2, [
    'error: FleetAPIEndpoint.ip: must be a host name or an IP address (got "fleet\\nhost")',
  ]],
  'fleet-port-0': [2, [
    'error: FleetAPIEndpoint.port: must be a port number from 1 to 65535 (got 0)',
  ]],
  'fleet-port-65535-as-text': [0, [
  ]],
  'fleet-port-65536': [2, [
    'error: FleetAPIEndpoint.port: must be a port number from 1 to 65535 (got 65536)',
  ]],
  'latin1-byte': [2, [
    'error: {file}: config file is not UTF-8 text: byte 0xe9 at offset 18 (line 1, byte 19 of the line) does not start a valid UTF-8 character ({abs})',
  ]],
  'max-instance-1e21': [2, [
    'error: Service.web.max_instance: must be at most 65535 (each instance has a port of its own) (got 1e+21)',
  ]],
  'max-instance-65535': [0, [
  ]],
  'max-instance-past-safe-integer': [2, [
    'error: Service.web.max_instance: must be at most 65535 (each instance has a port of its own) (got 9007199254740992)',
  ]],
  'merge-key-flood': [2, [
    'error: {file}:5:3: YAML syntax error: merge keys exceeded maxTotalMergeKeys (10000)',
  ]],
  'metrics-retention-1e12-minutes': [2, [
    'error: Engine.metrics_retention: must be at most 10 years, which is 5256000 minute (got 1000000000000)',
  ]],
  'metrics-retention-infinite': [2, [
    'error: Engine.metrics_retention: must be a finite number (got Infinity)',
  ]],
  'metrics-retention-under-1s': [2, [
    'error: Engine.metrics_retention: must be at least 1 second (got 0.5 second, which is 500 ms)',
  ]],
  'min-instance-65536': [2, [
    'error: Service.web.max_instance: must be at most 65535 (each instance has a port of its own) (got 65536)',
    'error: Service.web.min_instance: must be at most 65535 (each instance has a port of its own) (got 65536)',
  ]],
  'min-instance-negative-zero': [0, [
  ]],
  'nesting-101-deep': [2, [
    'error: {file}:2:106: YAML syntax error: nesting exceeded maxDepth (100)',
  ]],
  'nesting-99-deep': [0, [
    'warning: deep: ignored: outside the Dynamite: root',
  ]],
  'nesting-deep-by-aliases': [2, [
    'error: c: nests lists and mappings more than 100 levels deep, counting what aliases expand to (an alias inside its own anchor nests without end); the config could not be stored in etcd as JSON',
  ]],
  'period-10-years-in-seconds': [0, [
  ]],
  'period-1e-9': [2, [
    'error: ScalingPolicy.web_up.period: must be at least 1 millisecond (got 1e-9 second, which is 0 ms)',
  ]],
  'period-1e309': [2, [
    'error: ScalingPolicy.web_up.period: must be a finite number (got "1e309")',
  ]],
  'period-1ms': [0, [
  ]],
  'period-a-date': [2, [
    'error: ScalingPolicy.web_up.period: must be a positive number (got the date 2001-12-14T00:00:00.000Z)',
  ]],
  'period-past-10-years-in-minutes': [2, [
    'error: ScalingPolicy.web_up.period: must be at most 10 years, which is 5256000 minute (got 5256001)',
  ]],
  'period-past-10-years-in-seconds': [2, [
    'error: ScalingPolicy.web_up.period: must be at most 10 years, which is 315360000 second (got 315360001)',
  ]],
  'period-rounds-to-0': [2, [
    'error: ScalingPolicy.web_up.period: must be at least 1 millisecond (got 0.0004 second, which is 0 ms)',
  ]],
  'period-sexagesimal': [0, [
  ]],
  'policy-name-at': [0, [
  ]],
  'policy-name-dot-dot': [2, [
    'error: ScalingPolicy."..": policy name ".." cannot be "." or ".." (it becomes etcd keys and URLs)',
  ]],
  'policy-name-newline': [2, [
    'error: ScalingPolicy."up\\nx": policy name "up\\nx" may only contain letters, digits, ":", "_", ".", "-" and "@" (it becomes etcd keys and URLs)',
  ]],
  'policy-name-proto': [2, [
    'error: ScalingPolicy.__proto__: policy name "__proto__" is reserved (it becomes etcd keys and URLs)',
  ]],
  'ports-per-instance-65535': [0, [
  ]],
  'ports-per-instance-65536': [2, [
    'error: Service.web.ports_per_instance: must be at most 65535 (there are 65535 ports) (got 65536)',
  ]],
  'reconcile-interval-0.0001': [2, [
    'error: Engine.reconcile_interval: must be at least 1 second (got 0.0001 second, which is 0 ms)',
  ]],
  'reconcile-interval-10-years': [0, [
  ]],
  'reconcile-interval-1s': [0, [
  ]],
  'reconcile-interval-minute-fraction': [0, [
  ]],
  'reconcile-interval-past-10-years': [2, [
    'error: Engine.reconcile_interval: must be at most 10 years, which is 87600 hour (got 87601)',
  ]],
  'reconcile-interval-under-1s': [2, [
    'error: Engine.reconcile_interval: must be at least 1 second (got 0.999 second, which is 999 ms)',
  ]],
  'service-name-128': [0, [
  ]],
  'service-name-129': [2, [
    'error: Service."wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww...": service name "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww..." is longer than 128 characters (it becomes unit names, etcd keys and URLs)',
  ]],
  'service-name-at': [2, [
    'error: Service.w@b: service name "w@b" may only contain letters, digits, ":", "_", ".", "-" (it becomes unit names, etcd keys and URLs)',
  ]],
  'service-name-colon-dash': [0, [
  ]],
  'service-name-dot-dot': [2, [
    'error: Service."..": service name ".." cannot be "." or ".." (it becomes unit names, etcd keys and URLs)',
  ]],
  'service-name-dot': [2, [
    'error: Service.".": service name "." cannot be "." or ".." (it becomes unit names, etcd keys and URLs)',
  ]],
  'service-name-empty': [2, [
    'error: Service."": service name "" must not be empty (it becomes unit names, etcd keys and URLs)',
  ]],
  'service-name-newline': [2, [
    'error: Service."web\\nerror: fake": service name "web\\nerror: fake" may only contain letters, digits, ":", "_", ".", "-" (it becomes unit names, etcd keys and URLs)',
  ]],
  'service-name-proto': [2, [
    'error: Service.__proto__: service name "__proto__" is reserved (it becomes unit names, etcd keys and URLs)',
  ]],
  'service-name-space': [2, [
    'error: Service."my web": service name "my web" may only contain letters, digits, ":", "_", ".", "-" (it becomes unit names, etcd keys and URLs)',
  ]],
  'service-name-unicode': [2, [
    'error: Service."wéb": service name "wéb" may only contain letters, digits, ":", "_", ".", "-" (it becomes unit names, etcd keys and URLs)',
  ]],
  'service-type-newline': [2, [
    'error: ScalingPolicy.web_up.service_type: "web\\nserver" must not contain "/" or spaces (it is an etcd directory)',
  ]],
  'stale-after-past-10-years': [2, [
    'error: ScalingPolicy.web_up.stale_after: must be at most 10 years, which is 87600 hour (got 87601)',
  ]],
  'stale-after-rounds-to-0': [2, [
    'error: ScalingPolicy.web_up.stale_after: must be at least 1 millisecond (got 1e-9 second, which is 0 ms)',
  ]],
  'threshold-1.0e+309': [2, [
    'error: ScalingPolicy.web_up.threshold: must be a finite number (got "1.0e+309")',
  ]],
  'threshold-1e309': [2, [
    'error: ScalingPolicy.web_up.threshold: must be a finite number (got "1e309")',
  ]],
  'threshold-huge-hex': [0, [
  ]],
  'threshold-inf': [2, [
    'error: ScalingPolicy.web_up.threshold: must be a finite number (got Infinity)',
  ]],
  'threshold-largest-double': [0, [
  ]],
  'threshold-minus-1e309': [2, [
    'error: ScalingPolicy.web_up.threshold: must be a finite number (got "-1e309")',
  ]],
  'threshold-nan': [2, [
    'error: ScalingPolicy.web_up.threshold: must be a finite number (got NaN)',
  ]],
  'threshold-quoted-1e309': [2, [
    'error: ScalingPolicy.web_up.threshold: must be a finite number (got "1e309")',
  ]],
  'threshold-smallest-double': [0, [
  ]],
  'truncated-character': [2, [
    'error: {file}: config file is not UTF-8 text: byte 0xe2 at offset 554 (line 23, byte 3 of the line) does not start a valid UTF-8 character ({abs})',
  ]],
  'unknown-key-huge': [2, [
    'error: Service.web."kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...": unknown key',
  ]],
  'unknown-key-newline': [2, [
    'error: Service.web."max\\ninstance": unknown key; did you mean "max_instance"?',
  ]],
  'unknown-policy-reference-escaped': [2, [
    'error: Service.lb.scale_up_policy.ScalingPolicy: unknown policy "web_up\\u0007"; did you mean "web_up"?',
  ]],
  'utf16': [2, [
    'error: {file}: config file is not UTF-8 text: byte 0xff at offset 0 (line 1, byte 1 of the line) does not start a valid UTF-8 character ({abs})',
  ]],
  'utf8-bom': [0, [
  ]],
};

/** The cases that also run through the real binary. */
const CLI_CASES = [
  'alias-bomb-outside-root', 'alias-cycle', 'nesting-101-deep', 'reconcile-interval-0.0001', 'threshold-1e309', 'period-1e-9',
  'cooldown-1e12-minutes', 'max-instance-1e21', 'service-name-newline', 'service-name-proto', 'latin1-byte', 'aliases-under-32-mib',
];

/** What `dynamite validate` prints on stderr, and its exit code, as apps/cli/src/commands/validate.ts makes them. */
function validateInProcess(file: string): { code: number; stderr: string[] } {
  const result = loadConfig({ configFile: file, serviceFolders: [UNITS], cwd: ROOT });
  if (!result.ok) return { code: 2, stderr: result.errors.map((e) => `error: ${formatConfigError(e)}`) };
  return { code: 0, stderr: result.warnings.map((w) => `warning: ${formatConfigError(w)}`) };
}

const files = readdirSync(CASES).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();

test('every case file has an expectation, and every expectation a file', () => {
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
});

describe('hostile configs: the errors of dynamite validate', () => {
  for (const name of files) {
    const expected = EXPECTED[name];
    if (!expected) continue;
    test(name, () => {
      const file = `test/hostile/configs/${name}.yaml`;
      const want = expected[1].map((l) => l.replaceAll('{abs}', join(ROOT, file)).replaceAll('{file}', file));
      const run = validateInProcess(file);
      assert.deepEqual(run.stderr, want);
      assert.equal(run.code, expected[0]);
    });
  }
});

describe('hostile configs through the real binary', { concurrency: 2 }, () => {
  for (const name of CLI_CASES) {
    test(name, async () => {
      const expected = EXPECTED[name]!;
      const file = `test/hostile/configs/${name}.yaml`;
      const run = await runDynamite(['validate', '-c', file, '-s', UNITS], { timeoutMs: 30_000 });
      assert.deepEqual(lines(run.stderr), expected[1].map((l) => l.replaceAll('{abs}', join(ROOT, file)).replaceAll('{file}', file)));
      assert.equal(run.code, expected[0], run.stderr);
      assert.equal(run.stdout, expected[0] === 0 ? 'ok\n' : '');
      assert.doesNotMatch(run.stderr, /\n\s+at |Error:|TypeError|RangeError/, 'no stack trace');
    });
  }
});

describe('what validate accepts, run can run', () => {
  const SAFE_NAME = /^[A-Za-z0-9:_.@-]{1,128}$/;
  for (const name of files.filter((n) => EXPECTED[n]?.[0] === 0)) {
    test(name, () => {
      const loaded = loadConfig({ configFile: join(CASES, `${name}.yaml`), serviceFolders: [UNITS] });
      assert.ok(loaded.ok);
      if (!loaded.ok) return;
      const { config } = loaded;
      const now = Date.now();
      // Every duration is a whole number of ms in range, and the engine's Date arithmetic on it stays valid.
      const durations: [string, number, number][] = [
        ['reconcile_interval', config.engine.reconcileIntervalMs, ENGINE_INTERVAL_MIN_MS],
        ['metrics_retention', config.engine.metricsRetentionMs, ENGINE_INTERVAL_MIN_MS],
        ...config.policies.flatMap((p): [string, number, number][] => [
          [`${p.name}.period`, p.periodMs, 1],
          [`${p.name}.stale_after`, p.staleAfterMs, 1],
          [`${p.name}.cooldown_period`, p.cooldownMs, p.cooldownMs === 0 ? 0 : 1],
        ]),
      ];
      for (const [what, ms, least] of durations) {
        assert.ok(Number.isInteger(ms) && ms >= least && ms <= DURATION_MAX_MS, `${what}: ${ms} ms`);
        assert.doesNotThrow(() => new Date(now + ms).toISOString(), what);
        assert.doesNotThrow(() => new Date(now - ms).toISOString(), what);
      }
      for (const p of config.policies) {
        assert.ok(Number.isFinite(p.threshold), `${p.name}.threshold`);
        assert.match(p.name, SAFE_NAME);
      }
      for (const s of config.services) {
        assert.match(s.name, SAFE_NAME);
        for (const n of [s.minInstance, s.maxInstance, s.portsPerInstance]) assert.ok(Number.isInteger(n) && n >= 0 && n <= PORT_MAX, `${s.name}: ${n}`);
        if (s.basePort !== null) assert.ok(s.basePort + s.maxInstance * s.portsPerInstance - 1 <= PORT_MAX);
      }
      // The copy the scheduler stores in etcd fits.
      assert.ok(encodeStoredConfig(config.raw).length <= STORED_CONFIG_MAX_BYTES);
    });
  }
});
