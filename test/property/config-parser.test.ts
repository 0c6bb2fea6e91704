import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DURATION_MAX_MS,
  ENGINE_INTERVAL_MIN_MS,
  PORT_MAX,
  STORED_CONFIG_MAX_BYTES,
  encodeStoredConfig,
  formatConfigError,
  parseConfig,
  parseConfigJson,
  parseConfigObject,
  type ParseConfigResult,
} from '@dynamite/domain';
import { check, hostileText } from './support';

/**
 * The config parser never throws, whatever it is given; every error names a place and is one line; and what it
 * accepts is something the engine can run (finite numbers, durations in range, names in fleet's character set,
 * a stored copy that fits etcd).
 */

function assertWellFormed(result: ParseConfigResult): void {
  if (!result.ok) {
    assert.ok(result.errors.length > 0, 'a failure has errors');
    for (const e of result.errors) {
      assert.ok(typeof e.path === 'string' && e.path.length > 0, `error without a path: ${JSON.stringify(e)}`);
      assert.ok(typeof e.message === 'string' && e.message.length > 0, `error without a message: ${JSON.stringify(e)}`);
      assert.doesNotMatch(formatConfigError(e), /[\u0000-\u001f]/, 'one line, no control characters');
    }
    return;
  }
  const { config } = result;
  const safeName = /^[A-Za-z0-9:_.@-]{1,128}$/;
  for (const p of config.policies) {
    assert.ok(Number.isFinite(p.threshold));
    assert.match(p.name, safeName);
    for (const ms of [p.periodMs, p.staleAfterMs]) assert.ok(Number.isInteger(ms) && ms >= 1 && ms <= DURATION_MAX_MS, `${ms}`);
    assert.ok(Number.isInteger(p.cooldownMs) && p.cooldownMs >= 0 && p.cooldownMs <= DURATION_MAX_MS);
  }
  for (const ms of [config.engine.reconcileIntervalMs, config.engine.metricsRetentionMs]) {
    assert.ok(Number.isInteger(ms) && ms >= ENGINE_INTERVAL_MIN_MS && ms <= DURATION_MAX_MS);
  }
  for (const s of config.services) {
    assert.match(s.name, safeName);
    assert.ok(s.name !== '.' && s.name !== '..' && s.name !== '__proto__');
    for (const n of [s.minInstance, s.maxInstance, s.portsPerInstance]) assert.ok(Number.isInteger(n) && n >= 0 && n <= PORT_MAX);
  }
  assert.ok(encodeStoredConfig(config.raw).length <= STORED_CONFIG_MAX_BYTES);
}

// Pieces of YAML, valid and not: indentation, keys the parser knows, anchors and aliases, flow collections, tags.
const yamlToken = fc.oneof(
  fc.constantFrom(
    'Dynamite:', 'Service:', 'ScalingPolicy:', 'Engine:', 'ETCD:', 'web:', 'up:', 'name_of_unit_file:', 'web@.service',
    'max_instance:', 'min_instance:', 'base_instance_prefix_number:', 'ports_per_instance:', 'attached_service:', 'scale_up_policy:',
    'ScalingPolicy: up', 'threshold:', 'period:', 'period_unit:', 'cooldown_period:', 'cooldown_period_unit:', 'stale_after:',
    'reconcile_interval:', 'metrics_retention:', 'second', 'minute', 'hour', 'gt', 'lt', 'metric: cpu_user', 'service_type: web',
    '1e309', '-1e309', '.inf', '.nan', '0', '-0', '1e-9', '65536', '8080', '1:30', '0x1F', '2001-12-14', 'yes', 'no', '~', 'null',
    '&a', '*a', '&b [*a, *a]', '<<: *a', '[', ']', '{', '}', ',', '- ', '? ', '!!str', '!!binary', '"\\x01"', "'", '"', '|', '>',
    '__proto__:', '".":', '"..":', '"a\\nb":', '#', '---', '...', '%YAML 1.1',
  ),
  hostileText(12),
);
const yamlish = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.array(yamlToken, { maxLength: 4 })), { maxLength: 30 })
  .map((lines) => lines.map(([indent, tokens]) => `${' '.repeat(indent)}${tokens.join(' ')}`).join('\n'));

test('parseConfig never throws on any text, and every error names its place', () => {
  check(fc.property(fc.oneof(hostileText(400), yamlish), (text) => assertWellFormed(parseConfig(text, { source: 'c.yaml' }))));
});

test('parseConfigJson never throws on any text (the copy read back from etcd)', () => {
  check(fc.property(fc.oneof(hostileText(200), fc.json()), (text) => assertWellFormed(parseConfigJson(text))));
});

test('parseConfigObject never throws on any value', () => {
  check(fc.property(fc.anything({ withDate: true, withMap: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true, withBigInt: true }), (raw) =>
    assertWellFormed(parseConfigObject(raw)),
  ));
});

// A valid config with any of its values replaced by something hostile: each key is checked on its own, so the
// rest of the config must still be reported, and never a throw.
const hostileValue = fc.oneof(
  fc.anything({ withDate: true, withBigInt: true, withNullPrototype: true }),
  fc.date({ noInvalidDate: false }),
  fc.bigInt(),
  fc.constantFrom(new Date(NaN), new Date(8.64e15), 10n ** 30n, Symbol('s'), () => 1),
  fc.double(),
  fc.constantFrom(1e309, -1e309, '1e309', '-1e309', 1e-9, 0, -0, 0.0004, 1e12, 65535, 65536, 9007199254740993, 315360001, '', ' ', '__proto__', '.', '..', 'a\nb'),
  hostileText(20),
);
const validBody = () => ({
  ETCD: { application_base_path: '/services', metrics_base_path: '/metrics' },
  Engine: { reconcile_interval: 10, reconcile_interval_unit: 'second', metrics_retention: 10, metrics_retention_unit: 'minute' },
  FleetAPIEndpoint: { ip: '127.0.0.1', port: 49153 },
  Service: {
    web: { name_of_unit_file: 'web@.service', min_instance: 1, max_instance: 4, base_instance_prefix_number: 8080, ports_per_instance: 1, scale_up_policy: { ScalingPolicy: 'up' } },
  },
  ScalingPolicy: {
    up: {
      service_type: 'web', metric: 'cpu_user', comparative_operator: 'gt', threshold: 80, period: 30, period_unit: 'second',
      cooldown_period: 1, cooldown_period_unit: 'minute', stale_after: 60, stale_after_unit: 'second',
    },
  },
});
const leafPaths: string[][] = (() => {
  const out: string[][] = [];
  const walk = (node: unknown, path: string[]) => {
    if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
    else out.push(path);
  };
  walk(validBody(), []);
  return out;
})();

test('a valid config with hostile values or names put in: never a throw, and accepted only when runnable', () => {
  const change = fc.oneof(
    fc.record({ kind: fc.constant('value' as const), at: fc.constantFrom(...leafPaths), value: hostileValue }),
    fc.record({ kind: fc.constant('rename' as const), section: fc.constantFrom('Service', 'ScalingPolicy'), name: fc.oneof(hostileText(20), fc.constantFrom('.', '..', '__proto__', 'a'.repeat(129), 'w@b', 'constructor')) }),
  );
  check(fc.property(fc.array(change, { minLength: 1, maxLength: 4 }), fc.boolean(), (changes, rooted) => {
    const body = validBody() as Record<string, Record<string, unknown>>;
    for (const c of changes) {
      if (c.kind === 'value') {
        let node: unknown = body;
        for (const key of c.at.slice(0, -1)) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
        // A renamed entry is no longer at its old path: the change then goes nowhere.
        if (node !== null && typeof node === 'object') (node as Record<string, unknown>)[c.at.at(-1)!] = c.value;
      } else {
        const section = body[c.section]!;
        const [first] = Object.keys(section);
        if (first === undefined) continue;
        const entry = section[first];
        delete section[first];
        Object.defineProperty(section, c.name, { value: entry, enumerable: true, configurable: true, writable: true });
      }
    }
    assertWellFormed(parseConfigObject(rooted ? { Dynamite: body } : body));
  }));
});
