import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGGREGATE_MACHINE,
  countsOf,
  NO_CONTROLS,
  decideAction,
  decideScaling,
  describeRule,
  boundRepairRecord,
  fireDecisionRecord,
  instancesNeededForMin,
  scaleDownTargetFor,
  stepMachine,
  type FireEffect,
  type RecordedInstance,
  type ScaleDecision,
} from '@dynamite/domain';
import { config, policy, service } from './factory';

const cfg = config([
  service('apache', { minInstance: 2, maxInstance: 4, basePort: 8080, attachedServices: ['apache_discovery'] }),
  service('apache_discovery', { type: 'attached_service' }),
  service('web2', { minInstance: 1, maxInstance: 3, basePort: 9000, portsPerInstance: 2 }),
  service('lb', { unitFile: 'loadbalancer.service', minInstance: 1, maxInstance: 1 }),
  service('zero', { minInstance: 0, maxInstance: 2, basePort: 7000 }),
]);

let created = 0;
function inst(name: string, state: RecordedInstance['state'] = 'launched', over: Partial<RecordedInstance> = {}): RecordedInstance {
  const port = /@(\d+)\.service$/.exec(name);
  created += 1;
  return { name, port: port ? Number(port[1]) : null, state, createdAt: created, decisionId: null, attached: [], ...over };
}

const up = { direction: 'up' } as const;
const newest = { direction: 'down', target: { kind: 'newest' } } as const;
const downOf = (name: string) => ({ direction: 'down', target: { kind: 'instance', name } }) as const;

/** decideAction without controls (no pause, no protection, no dry run), one instance at a time unless `step`. */
function act(svc: string, list: RecordedInstance[], request: Parameters<typeof decideAction>[3], more: Partial<Parameters<typeof decideAction>[4]> = {}) {
  return decideAction(cfg, svc, list, request, { controls: NO_CONTROLS, at: 0, ...more });
}

function suppressedReason(d: ScaleDecision): string {
  assert.equal(d.outcome, 'suppressed');
  return d.outcome === 'suppressed' ? d.reason : '';
}

describe('countsOf and instancesNeededForMin', () => {
  test('active = creating + launched; destroying is counted apart', () => {
    const list = [inst('apache@8080.service'), inst('apache@8081.service', 'creating'), inst('apache@8082.service', 'destroying')];
    assert.deepEqual(countsOf(list), { active: 2, creating: 1, launched: 1, destroying: 1 });
    assert.deepEqual(countsOf([]), { active: 0, creating: 0, launched: 0, destroying: 0 });
  });
  test('instances needed to reach min_instance count decided creations and ignore destroying ones', () => {
    assert.equal(instancesNeededForMin(cfg, 'apache', []), 2);
    assert.equal(instancesNeededForMin(cfg, 'apache', [inst('apache@8080.service', 'creating')]), 1);
    assert.equal(instancesNeededForMin(cfg, 'apache', [inst('apache@8080.service', 'destroying')]), 2);
    assert.equal(instancesNeededForMin(cfg, 'apache', [inst('apache@8080.service'), inst('apache@8081.service'), inst('apache@8082.service')]), 0);
    assert.equal(instancesNeededForMin(cfg, 'zero', []), 0);
  });
  test('an unknown service is a programming error', () => {
    assert.throws(() => instancesNeededForMin(cfg, 'nope', []), /nope is not in the configuration/);
    assert.throws(() => decideScaling(cfg, 'nope', [], up), /nope/);
  });
});

describe('scale up', () => {
  test('allowed below max: lowest free port, attached instances named after it', () => {
    const d = decideScaling(cfg, 'apache', [inst('apache@8080.service'), inst('apache@8082.service')], up);
    assert.deepEqual(d, {
      outcome: 'action',
      kind: 'scale_up',
      instance: 'apache@8081.service',
      port: 8081,
      attached: ['apache_discovery@8081.service'],
    });
  });

  test('max counts instances still being created', () => {
    const list = [inst('apache@8080.service'), inst('apache@8081.service'), inst('apache@8082.service', 'creating'), inst('apache@8083.service', 'creating')];
    const d = decideScaling(cfg, 'apache', list, up);
    assert.equal(suppressedReason(d), 'max_instance');
    assert.equal(d.outcome === 'suppressed' && d.message, 'apache has 4 of max 4 instances (2 being created)');
  });

  test('destroying instances do not count toward max but keep their ports', () => {
    const list = [
      inst('apache@8080.service', 'destroying'),
      inst('apache@8081.service'),
      inst('apache@8082.service'),
      inst('apache@8083.service'),
    ];
    assert.equal(suppressedReason(decideScaling(cfg, 'apache', list, up)), 'no_free_port');
    const d = decideScaling(cfg, 'apache', list.slice(1), up);
    assert.equal(d.outcome === 'action' && d.instance, 'apache@8080.service');
  });

  test('no_free_port names the numbers', () => {
    const list = [inst('apache@8080.service', 'destroying'), inst('apache@8081.service'), inst('apache@8082.service'), inst('apache@8083.service')];
    const d = decideScaling(cfg, 'apache', list, up);
    assert.equal(d.outcome === 'suppressed' && d.message, 'apache has no free port slot: 4 slots of 1 port(s) from 8080, 4 occupied (1 being destroyed)');
  });

  test('ports_per_instance 2: 9000, 9002, 9004, then reuse of a freed slot', () => {
    const list: RecordedInstance[] = [];
    for (let i = 0; i < 3; i += 1) {
      const d = decideScaling(cfg, 'web2', list, up);
      assert.equal(d.outcome, 'action');
      if (d.outcome === 'action') list.push(inst(d.instance, 'creating'));
    }
    assert.deepEqual(list.map((i) => i.name), ['web2@9000.service', 'web2@9002.service', 'web2@9004.service']);
    assert.equal(suppressedReason(decideScaling(cfg, 'web2', list, up)), 'max_instance');
    const d = decideScaling(cfg, 'web2', list.slice(1), up);
    assert.equal(d.outcome === 'action' && d.instance, 'web2@9000.service');
  });

  test('an unaligned adopted instance blocks the slots it overlaps', () => {
    const d = decideScaling(cfg, 'web2', [inst('web2@9001.service')], up);
    assert.equal(d.outcome === 'action' && d.instance, 'web2@9004.service');
  });

  test('non-template: one instance named after the unit file, never a second', () => {
    assert.deepEqual(decideScaling(cfg, 'lb', [], up), { outcome: 'action', kind: 'scale_up', instance: 'loadbalancer.service', port: null, attached: [] });
    assert.equal(suppressedReason(decideScaling(cfg, 'lb', [inst('loadbalancer.service')], up)), 'max_instance');
    const d = decideScaling(cfg, 'lb', [inst('loadbalancer.service', 'destroying')], up);
    assert.equal(suppressedReason(d), 'no_free_port');
    assert.match(d.outcome === 'suppressed' ? d.message : '', /loadbalancer.service still exists \(destroying\)/);
  });
});

describe('scale down', () => {
  const three = () => [
    inst('apache@8080.service', 'launched', { createdAt: 10, attached: ['apache_discovery@8080.service'] }),
    inst('apache@8081.service', 'launched', { createdAt: 30, attached: ['apache_discovery@8081.service'] }),
    inst('apache@8082.service', 'launched', { createdAt: 20, attached: ['apache_discovery@8082.service'] }),
    inst('apache@8083.service', 'creating', { createdAt: 40, attached: ['apache_discovery@8083.service'] }),
  ];

  test('removes the named instance, with the attached units recorded for it', () => {
    assert.deepEqual(decideScaling(cfg, 'apache', three(), downOf('apache@8080.service')), {
      outcome: 'action',
      kind: 'scale_down',
      instance: 'apache@8080.service',
      port: 8080,
      attached: ['apache_discovery@8080.service'],
    });
  });

  test('newest = highest createdAt among launched instances (one being created is never picked)', () => {
    const d = decideScaling(cfg, 'apache', three(), newest);
    assert.equal(d.outcome === 'action' && d.instance, 'apache@8081.service');
  });

  test('newest ties: highest port, then name; destroying instances are never picked', () => {
    const list = [
      inst('apache@8080.service', 'launched', { createdAt: 5 }),
      inst('apache@8083.service', 'destroying', { createdAt: 9 }),
      inst('apache@8081.service', 'launched', { createdAt: 5 }),
      inst('apache@8082.service', 'launched', { createdAt: 4 }),
    ];
    const d = decideScaling(cfg, 'apache', list, newest);
    assert.equal(d.outcome === 'action' && d.instance, 'apache@8081.service');
    const named = [inst('b.service', 'launched', { createdAt: 1, port: null }), inst('a.service', 'launched', { createdAt: 1, port: null }), inst('c', 'launched', { createdAt: 0 })];
    const z = decideScaling(config([service('s', { unitFile: 's.service', minInstance: 0 })]), 's', named, newest);
    assert.equal(z.outcome === 'action' && z.instance, 'b.service');
  });

  test('min counts launched instances only: creating ones do not serve yet, destroying ones no longer', () => {
    const list = [inst('apache@8080.service'), inst('apache@8081.service', 'destroying')];
    const d = decideScaling(cfg, 'apache', list, newest);
    assert.equal(suppressedReason(d), 'min_instance');
    assert.equal(d.outcome === 'suppressed' && d.message, 'apache has 1 launched of min 2 instances (0 being created, 1 being destroyed)');
    const withCreating = [inst('apache@8080.service'), inst('apache@8081.service', 'creating'), inst('apache@8082.service', 'creating')];
    assert.equal(suppressedReason(decideScaling(cfg, 'apache', withCreating, newest)), 'min_instance');
    const enough = [inst('apache@8080.service'), inst('apache@8081.service'), inst('apache@8082.service', 'creating'), inst('apache@8083.service')];
    assert.equal(decideScaling(cfg, 'apache', enough, newest).outcome, 'action');
  });

  test('an instance still being created is not a scale-down target', () => {
    const d = decideScaling(cfg, 'apache', three(), downOf('apache@8083.service'));
    assert.equal(suppressedReason(d), 'unknown_instance');
    assert.match(d.outcome === 'suppressed' ? d.message : '', /still being created/);
  });

  test('exactly at min: suppressed (allowed only above min)', () => {
    assert.equal(suppressedReason(decideScaling(cfg, 'apache', [inst('apache@8080.service'), inst('apache@8081.service')], newest)), 'min_instance');
  });

  test('min 0 allows removing the last instance; none left is min_instance', () => {
    assert.equal(decideScaling(cfg, 'zero', [inst('zero@7000.service')], newest).outcome, 'action');
    assert.equal(suppressedReason(decideScaling(cfg, 'zero', [], newest)), 'min_instance');
  });

  test('unknown targets: another service\'s unit, a gone unit, one already being destroyed', () => {
    const list = [...three(), inst('apache@8084.service', 'destroying')];
    const cases: [string, RegExp][] = [
      ['db@8080.service', /db@8080.service is not a recorded instance of apache/],
      ['apache@8099.service', /not a recorded instance/],
      ['apache@8084.service', /already being destroyed/],
    ];
    for (const [name, message] of cases) {
      const d = decideScaling(cfg, 'apache', list, downOf(name));
      assert.equal(suppressedReason(d), 'unknown_instance', name);
      assert.match(d.outcome === 'suppressed' ? d.message : '', message);
    }
  });

  test('bounds are checked before the target', () => {
    const d = decideScaling(cfg, 'apache', [inst('apache@8080.service'), inst('apache@8081.service')], downOf('nope.service'));
    assert.equal(suppressedReason(d), 'min_instance');
  });

  test('a run of decisions never crosses the bounds, whatever the order (decided instances count at once)', () => {
    const list: RecordedInstance[] = [];
    for (let i = 0; i < 10; i += 1) {
      const d = decideScaling(cfg, 'apache', list, up);
      if (d.outcome === 'action') list.push(inst(d.instance, 'creating'));
    }
    assert.equal(countsOf(list).active, 4);
    // Instances still being created are never removed (their creation would race the removal).
    assert.deepEqual(decideScaling(cfg, 'apache', list, newest), {
      outcome: 'suppressed', reason: 'min_instance', message: 'apache has 0 launched of min 2 instances (4 being created, 0 being destroyed)',
    });
    for (const x of list) x.state = 'launched';
    for (let i = 0; i < 10; i += 1) {
      const d = decideScaling(cfg, 'apache', list, newest);
      if (d.outcome === 'action') list.find((x) => x.name === d.instance)!.state = 'destroying';
    }
    assert.equal(countsOf(list).active, 2);
  });

  test('scaleDownTargetFor: the registered instance, else the newest', () => {
    assert.deepEqual(scaleDownTargetFor('u1', 'apache@8081.service'), { kind: 'instance', name: 'apache@8081.service' });
    assert.deepEqual(scaleDownTargetFor('u1', null), { kind: 'newest' });
    assert.deepEqual(scaleDownTargetFor(AGGREGATE_MACHINE, 'apache@8081.service'), { kind: 'newest' });
  });
});

describe('decision records', () => {
  test('describeRule', () => {
    assert.equal(describeRule(policy('p', { periodMs: 30_000, cooldownMs: 60_000 })), 'cpu_user gt 80 for 30s (cooldown 1m)');
    assert.equal(
      describeRule(policy('p', { metric: 'response_time.time_backend_response.p95', operator: 'lt', threshold: 0.5, thresholdUnit: 'second', periodMs: 90_000, cooldownMs: 3_600_000 })),
      'response_time.time_backend_response.p95 lt 0.5 second for 1m30s (cooldown 1h)',
    );
    assert.equal(describeRule(policy('p', { periodMs: 1500, cooldownMs: 0 })), 'cpu_user gt 80 for 1500ms (cooldown 0ms)');
  });

  const P = policy('cpu_up', { periodMs: 30_000 });
  function fire(): FireEffect {
    let state = stepMachine(
      { lastSeenKey: null, lastSeenTs: null, armed: null, cooldownNotedUntil: null },
      { kind: 'sample', sample: { tsKey: 'a', ts: 1, value: 90, receivedAt: 1000 } },
      { service: 'apache', policy: P, direction: 'up', machine: 'u1', cooldownUntil: null, now: 1000 },
    ).state;
    state = stepMachine(state, { kind: 'sample', sample: { tsKey: 'b', ts: 2, value: 95, receivedAt: 2000 } },
      { service: 'apache', policy: P, direction: 'up', machine: 'u1', cooldownUntil: null, now: 2000 }).state;
    const effects = stepMachine(state, { kind: 'timer-expired', timerId: state.armed!.timerId },
      { service: 'apache', policy: P, direction: 'up', machine: 'u1', cooldownUntil: null, now: 31_000 }).effects;
    return effects[0] as FireEffect;
  }

  test('a fire that scaled: outcome scaled, the action, the fire id, the rule and inputs', () => {
    const f = fire();
    const d = act('apache', [inst('apache@8080.service'), inst('apache@8081.service')], up);
    const before = { active: 2, creating: 0, launched: 2, destroying: 0 };
    const r = fireDecisionRecord({ service: 'apache', policy: P, machine: 'u1' }, f, d, before);
    assert.equal(r.id, f.decisionId);
    assert.equal(r.at, 31_000);
    assert.equal(r.outcome, 'scaled');
    assert.equal(r.reason, 'cpu_up', 'a scaled record names the policy that scaled');
    assert.deepEqual(r.action, { kind: 'scale_up', instance: 'apache@8082.service', attached: ['apache_discovery@8082.service'] });
    assert.equal(r.rule, 'cpu_user gt 80 for 30s (cooldown 1m)');
    assert.equal(r.inputs['samples'], 2);
    assert.deepEqual(r.inputs['instancesBefore'], before);
    assert.equal(r.message, 'cpu_user stayed above 80 on instance u1 (2 samples, newest 95): scaling apache up, creating apache@8082.service; 2 active before');
  });

  test('a fire held at a bound: outcome suppressed with the bound as reason', () => {
    const f = fire();
    const list = ['8080', '8081', '8082', '8083'].map((p) => inst(`apache@${p}.service`));
    const r = fireDecisionRecord({ service: 'apache', policy: P, machine: 'u1' }, f, act('apache', list, up), countsOf(list));
    assert.equal(r.outcome, 'suppressed');
    assert.equal(r.reason, 'max_instance');
    assert.equal(r.action, null);
    assert.match(r.message, /but apache has 4 of max 4 instances \(0 being created\): not scaling up$/);
  });

  test('a bound repair: bound_repair with its action, or suppressed with the bound that held it', () => {
    const two = [inst('apache@8080.service'), inst('apache@8081.service')];
    const d = act('apache', two, up);
    const r = boundRepairRecord({ service: 'apache', decisionId: 'id1', at: 5, bound: 'min_instance', limit: 3 }, d, countsOf(two), { needed: 1 });
    assert.deepEqual([r.id, r.at, r.outcome, r.reason, r.direction, r.policy], ['id1', 5, 'bound_repair', 'min_instance', 'up', null]);
    assert.deepEqual(r.action, { kind: 'scale_up', instance: 'apache@8082.service', attached: ['apache_discovery@8082.service'] });
    assert.equal(r.rule, 'keep at least 3 instance(s)');
    assert.equal(r.message, 'apache has 2 active instance(s), fewer than min_instance 3: creating apache@8082.service');
    const full = ['8080', '8081', '8082', '8083'].map((p) => inst(`apache@${p}.service`));
    const held = boundRepairRecord({ service: 'apache', decisionId: 'id2', at: 6, bound: 'min_instance', limit: 5 }, act('apache', full, up), countsOf(full), {});
    assert.deepEqual([held.outcome, held.reason, held.action], ['suppressed', 'max_instance', null]);
  });
});
