import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGGREGATE_MACHINE,
  machineSamplePrefix,
  isUnderPrefixes,
  metricWatchPrefixes,
  normalizeInstanceName,
  parseRegistrationKey,
  parseSampleKey,
  routeSample,
  type SampleKey,
} from '@dynamite/domain';
import { config, policy, service } from './factory';

const TS = '2015-07-28T13:15:50.631Z';

function key(k: string): SampleKey {
  const result = parseSampleKey(k, '/metrics');
  if (!result.ok) throw new Error(result.message);
  return result.sample;
}

// Two service types with the same metric name, plus an aggregated policy on a third type.
const cfg = config(
  [
    service('apache', { scaleUpPolicies: ['web_cpu_up'], scaleDownPolicies: ['web_cpu_down'] }),
    service('apache_blue', { scaleUpPolicies: ['web_cpu_up'] }), // one policy used by two services
    service('db', { unitFile: 'db@.service', basePort: 5432, scaleUpPolicies: ['db_cpu_up'] }),
    service('haproxy', { unitFile: 'haproxy.service', scaleUpPolicies: ['lb_resp_up'] }),
    service('apache_discovery', { type: 'attached_service' }),
  ],
  [
    policy('web_cpu_up', { serviceType: 'webserver', metric: 'cpu_user', operator: 'gt', threshold: 80 }),
    policy('web_cpu_down', { serviceType: 'webserver', metric: 'cpu_user', operator: 'lt', threshold: 10 }),
    policy('db_cpu_up', { serviceType: 'database', metric: 'cpu_user' }),
    policy('lb_resp_up', { serviceType: 'loadbalancer', metric: 'response_time.time_backend_response.p95', aggregated: true }),
    policy('unused', { serviceType: 'cache', metric: 'hits' }),
  ],
);

describe('routeSample', () => {
  test('a per-instance sample feeds every (service, policy) of its type and metric, keyed by uuid', () => {
    assert.deepEqual(routeSample(key(`/metrics/webserver/u1/cpu_user/${TS}`), cfg), [
      { service: 'apache', policy: 'web_cpu_up', machine: 'u1', direction: 'up' },
      { service: 'apache', policy: 'web_cpu_down', machine: 'u1', direction: 'down' },
      { service: 'apache_blue', policy: 'web_cpu_up', machine: 'u1', direction: 'up' },
    ]);
  });

  test('no cross-talk between service types sharing a metric name (the original routed by name alone)', () => {
    assert.deepEqual(routeSample(key(`/metrics/database/u9/cpu_user/${TS}`), cfg), [
      { service: 'db', policy: 'db_cpu_up', machine: 'u9', direction: 'up' },
    ]);
  });

  test('an aggregated sample feeds aggregated policies only, on the aggregate machine', () => {
    assert.deepEqual(routeSample(key(`/metrics/loadbalancer/response_time/${TS}`), cfg), [
      { service: 'haproxy', policy: 'lb_resp_up', machine: AGGREGATE_MACHINE, direction: 'up' },
    ]);
  });

  test('layout must match the policy: aggregated keys never feed per-instance policies and vice versa', () => {
    assert.deepEqual(routeSample(key(`/metrics/webserver/cpu_user/${TS}`), cfg), []);
    assert.deepEqual(routeSample(key(`/metrics/loadbalancer/u1/response_time/${TS}`), cfg), []);
  });

  test('unknown types, unknown metrics and unused policies route nowhere', () => {
    assert.deepEqual(routeSample(key(`/metrics/nosuchtype/u1/cpu_user/${TS}`), cfg), []);
    assert.deepEqual(routeSample(key(`/metrics/webserver/u1/memory/${TS}`), cfg), []);
    assert.deepEqual(routeSample(key(`/metrics/cache/u1/hits/${TS}`), cfg), []);
  });
});

describe('machineSamplePrefix and metricWatchPrefixes', () => {
  const up = cfg.policies[0]!;
  const lb = cfg.policies[3]!;
  test('per-instance and aggregated prefixes', () => {
    assert.equal(machineSamplePrefix(cfg, up, 'u1'), '/metrics/webserver/u1/cpu_user/');
    assert.equal(machineSamplePrefix(cfg, lb, AGGREGATE_MACHINE), '/metrics/loadbalancer/response_time/');
  });
  test('every routed sample key lies under its machine prefix', () => {
    for (const k of [`/metrics/webserver/u1/cpu_user/${TS}`, `/metrics/loadbalancer/response_time/${TS}`]) {
      for (const route of routeSample(key(k), cfg)) {
        const p = cfg.policies.find((x) => x.name === route.policy)!;
        assert.ok(k.startsWith(machineSamplePrefix(cfg, p, route.machine)), `${k} under its prefix`);
      }
    }
  });
  test('a trailing slash on the base path does not double the slash', () => {
    const c = config(cfg.services, cfg.policies, { metricsBasePath: '/metrics/' });
    assert.equal(machineSamplePrefix(c, up, 'u1'), '/metrics/webserver/u1/cpu_user/');
    assert.deepEqual(metricWatchPrefixes(c), metricWatchPrefixes(cfg));
  });
  test('watch prefixes: whole type dirs for per-instance policies, metric dirs for aggregated, unused policies left out', () => {
    assert.deepEqual(metricWatchPrefixes(cfg), [
      '/metrics/database/',
      '/metrics/loadbalancer/response_time/',
      '/metrics/webserver/',
    ]);
  });
  test('an aggregated prefix covered by a per-instance type prefix is dropped; "web" does not cover "webserver"', () => {
    const c = config(
      [service('a', { scaleUpPolicies: ['agg'], scaleDownPolicies: ['inst'] }), service('b', { scaleUpPolicies: ['web'] })],
      [
        policy('agg', { serviceType: 'webserver', metric: 'rt', aggregated: true }),
        policy('inst', { serviceType: 'webserver', metric: 'cpu' }),
        policy('web', { serviceType: 'web', metric: 'rt', aggregated: true }),
      ],
    );
    assert.deepEqual(metricWatchPrefixes(c), ['/metrics/web/rt/', '/metrics/webserver/']);
  });
  test('isUnderPrefixes: exactly the keys some watch prefix covers, by binary search', () => {
    const prefixes = ['/metrics/a/', '/metrics/web/rt/', '/metrics/webserver/'];
    const keys = ['/metrics/a/u1/cpu/1', '/metrics/web/rt/1', '/metrics/web/cpu/1', '/metrics/webserver/u/cpu/1', '/metrics/web', '/metrics/', '/metrics/z/1', '/m', '/metrics/a'];
    for (const k of keys) assert.equal(isUnderPrefixes(prefixes, k), prefixes.some((p) => k.startsWith(p)), k);
    assert.equal(isUnderPrefixes([], '/metrics/a/1'), false);
  });
  test('10,000 per-instance and 10,000 aggregated prefixes: the covered ones dropped in one pass', () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `t${String(i).padStart(5, '0')}`);
    const c = config(
      names.map((n) => service(n, { scaleUpPolicies: [`${n}_i`], scaleDownPolicies: [`${n}_a`] })),
      names.flatMap((n) => [policy(`${n}_i`, { serviceType: n, metric: 'cpu' }), policy(`${n}_a`, { serviceType: n, metric: 'rt', aggregated: true })]),
    );
    assert.deepEqual(metricWatchPrefixes(c), names.map((n) => `/metrics/${n}/`));
  });
  test('every routable key is covered by some watch prefix', () => {
    const prefixes = metricWatchPrefixes(cfg);
    for (const k of [`/metrics/webserver/u1/cpu_user/${TS}`, `/metrics/database/u2/cpu_user/${TS}`, `/metrics/loadbalancer/response_time/${TS}`]) {
      assert.ok(prefixes.some((p) => k.startsWith(p)), k);
    }
  });
});

describe('registrations', () => {
  test('parseRegistrationKey accepts only <base>/<type>/<uuid>/service_instance_name', () => {
    assert.deepEqual(parseRegistrationKey('/services/webserver/u1/service_instance_name', '/services'), { serviceType: 'webserver', uuid: 'u1' });
    assert.deepEqual(parseRegistrationKey('/apps/x/webserver/u1/service_instance_name', '/apps/x/'), { serviceType: 'webserver', uuid: 'u1' });
    const no = [
      '/services/webserver/u1',
      '/services/webserver/u1/other_leaf',
      '/services/webserver/u1/x/service_instance_name',
      '/services//u1/service_instance_name',
      '/services/webserver//service_instance_name',
      '/servicesx/webserver/u1/service_instance_name',
      '/elsewhere/webserver/u1/service_instance_name',
    ];
    for (const k of no) assert.equal(parseRegistrationKey(k, '/services'), null, k);
  });

  const names: [string, string | null][] = [
    ['web@8080.service', 'web@8080.service'],
    ['web@8080', 'web@8080.service'],
    ['  zurmo_apache@8080.service\n', 'zurmo_apache@8080.service'],
    ['loadbalancer', 'loadbalancer.service'],
    ['', null],
    ['   ', null],
    ['.service', null],
    ['web@.service', null],
    ['@8080.service', null],
    ['a@b@c.service', null],
    ['web 8080.service', null],
    ['../etc/passwd', null],
    ['"web@8080.service"', null],
  ];
  for (const [value, expected] of names) {
    test(`normalizeInstanceName(${JSON.stringify(value)}) = ${expected}`, () => {
      assert.equal(normalizeInstanceName(value), expected);
    });
  }
});

describe('routing at fleet scale (1,000 services)', () => {
  // Each service its own type, with a per-instance up and down policy on cpu_user; every 10th also shares an
  // aggregated policy on its type's response time; and one policy that two services use.
  const services = Array.from({ length: 1000 }, (_, i) => service(`s${i}`, {
    type: `t${i}`,
    scaleUpPolicies: [`s${i}_up`],
    scaleDownPolicies: [i % 10 === 0 ? `s${i}_agg` : `s${i}_down`],
  }));
  const policies = services.flatMap((s, i) => [
    policy(`s${i}_up`, { serviceType: `t${i}`, metric: 'cpu_user', operator: 'gt' }),
    i % 10 === 0
      ? policy(`s${i}_agg`, { serviceType: `t${i}`, metric: 'resp.p95', aggregated: true, operator: 'lt' })
      : policy(`s${i}_down`, { serviceType: `t${i}`, metric: 'cpu_user', operator: 'lt' }),
  ]);
  const big = config([...services, service('twin', { type: 't500', scaleUpPolicies: ['s500_up'] })], policies);

  test('every instance sample reaches exactly its own service\'s policies, in config order', () => {
    for (let i = 0; i < 1000; i += 1) {
      const routes = routeSample(key(`/metrics/t${i}/u${i}/cpu_user/${TS}`), big);
      const expected = [{ service: `s${i}`, policy: `s${i}_up`, machine: `u${i}`, direction: 'up' }];
      if (i % 10 !== 0) expected.push({ service: `s${i}`, policy: `s${i}_down`, machine: `u${i}`, direction: 'down' });
      if (i === 500) expected.push({ service: 'twin', policy: 's500_up', machine: 'u500', direction: 'up' });
      assert.deepEqual(routes, expected, `t${i}`);
    }
  });

  test('aggregated samples reach only the aggregated policies of their type; unknown types and metrics reach none', () => {
    assert.deepEqual(routeSample(key(`/metrics/t10/resp/${TS}`), big), [{ service: 's10', policy: 's10_agg', machine: AGGREGATE_MACHINE, direction: 'down' }]);
    assert.deepEqual(routeSample(key(`/metrics/t11/resp/${TS}`), big), []);
    assert.deepEqual(routeSample(key(`/metrics/t10/u1/resp/${TS}`), big), [], 'an instance-layout sample of an aggregated metric');
    assert.deepEqual(routeSample(key(`/metrics/t1000/u/cpu_user/${TS}`), big), []);
    assert.deepEqual(routeSample(key(`/metrics/t1/u/mem/${TS}`), big), []);
  });

  test('the route index belongs to its config: another config routes by its own policies', () => {
    const before = routeSample(key(`/metrics/t1/u/cpu_user/${TS}`), big);
    const changed = config(services.slice(0, 2).map((s) => ({ ...s, scaleDownPolicies: [] })), policies.slice(0, 4));
    assert.deepEqual(routeSample(key(`/metrics/t1/u/cpu_user/${TS}`), changed), [{ service: 's1', policy: 's1_up', machine: 'u', direction: 'up' }]);
    assert.deepEqual(routeSample(key(`/metrics/t1/u/cpu_user/${TS}`), big), before, 'the first config is unchanged');
  });
});
