import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NO_CONTROLS,
  boundRepairRecord,
  buildPause,
  countsOf,
  decideAction,
  describePause,
  fireDecisionRecord,
  parseDuration,
  pauseApplies,
  pauseExpired,
  type ActionDecision,
  type FireEffect,
  type RecordedInstance,
  type ServiceControls,
  type ServicePause,
} from '@dynamite/domain';
import { config, policy, service } from './factory';

const cfg = config([
  service('web', { minInstance: 1, maxInstance: 4, basePort: 8080 }),
  service('batch', { minInstance: 0, maxInstance: 3, basePort: 9000, dryRun: true }),
]);

let created = 0;
function inst(name: string, state: RecordedInstance['state'] = 'launched'): RecordedInstance {
  created += 1;
  return { name, port: Number(/@(\d+)\./.exec(name)?.[1] ?? 0) || null, state, createdAt: created, decisionId: null, attached: [] };
}
const three = () => [inst('web@8080.service'), inst('web@8081.service'), inst('web@8082.service')];
const up = { direction: 'up' } as const;
const newest = { direction: 'down', target: { kind: 'newest' } } as const;
const named = (name: string) => ({ direction: 'down', target: { kind: 'instance', name } }) as const;

const controls = (over: Partial<ServiceControls> = {}): ServiceControls => ({ ...NO_CONTROLS, ...over });
const pause = (over: Partial<ServicePause> = {}): ServicePause => ({ directions: ['up', 'down'], reason: 'deploying', until: null, at: 1_000, by: 'alice', ...over });

function names(d: ActionDecision): string[] {
  assert.equal(d.outcome, 'action', JSON.stringify(d));
  return d.outcome === 'action' ? d.actions.map((a) => a.instance) : [];
}
function reason(d: ActionDecision): string {
  assert.equal(d.outcome, 'suppressed', JSON.stringify(d));
  return d.outcome === 'suppressed' ? d.reason : '';
}

describe('dry run', () => {
  test('the engine-wide switch: the same action is decided, marked dryRun', () => {
    const real = decideAction(cfg, 'web', three(), up, { controls: NO_CONTROLS, at: 0 });
    const dry = decideAction(cfg, 'web', three(), up, { controls: controls({ engineDryRun: true }), at: 0 });
    assert.deepEqual(names(dry), names(real));
    assert.equal(real.outcome === 'action' && real.dryRun, false);
    assert.equal(dry.outcome === 'action' && dry.dryRun, true);
  });
  test("a service's own dry_run: true", () => {
    const d = decideAction(cfg, 'batch', [], up, { controls: NO_CONTROLS, at: 0 });
    assert.equal(d.outcome === 'action' && d.dryRun, true);
    assert.deepEqual(names(d), ['batch@9000.service']);
  });
  test('a bound still suppresses in a dry run: what a real decision would have recorded', () => {
    const full = ['8080', '8081', '8082', '8083'].map((p) => inst(`web@${p}.service`));
    assert.equal(reason(decideAction(cfg, 'web', full, up, { controls: controls({ engineDryRun: true }), at: 0 })), 'max_instance');
  });
  test('records: dry_run with the action that would have been, for a fire and for a bound repair', () => {
    const fire: FireEffect = { kind: 'fire', timerId: 't', armedAt: 0, at: 30_000, direction: 'up', decisionId: 'd1', inputs: { samples: 3, newestValue: 95 } };
    const d = decideAction(cfg, 'web', three(), up, { controls: controls({ engineDryRun: true }), at: 30_000 });
    const r = fireDecisionRecord({ service: 'web', policy: policy('web_up'), machine: 'u1' }, fire, d, countsOf(three()));
    assert.deepEqual([r.id, r.outcome, r.reason, r.inputs['dryRun']], ['d1', 'dry_run', 'web_up', true]);
    assert.deepEqual(r.action, { kind: 'scale_up', instance: 'web@8083.service', attached: [] });
    assert.match(r.message, /: dry run, would scale web up, creating web@8083\.service; 3 active, nothing done$/);
    const repair = decideAction(cfg, 'web', [], up, { controls: controls({ engineDryRun: true }), at: 5, step: 2 });
    const b = boundRepairRecord({ service: 'web', decisionId: 'b1', at: 5, bound: 'min_instance', limit: 2 }, repair, countsOf([]), {});
    assert.deepEqual([b.outcome, b.reason, b.actions?.map((a) => a.instance)], ['dry_run', 'min_instance', ['web@8080.service', 'web@8081.service']]);
    assert.equal(b.message, 'web has 0 active instance(s), fewer than min_instance 2: dry run, would be creating web@8080.service and web@8081.service; nothing done');
  });
});

describe('pause', () => {
  test('a pause of both directions holds both; one of one direction holds only it', () => {
    assert.equal(reason(decideAction(cfg, 'web', three(), up, { controls: controls({ pause: pause() }), at: 2_000 })), 'paused');
    assert.equal(reason(decideAction(cfg, 'web', three(), newest, { controls: controls({ pause: pause() }), at: 2_000 })), 'paused');
    const upOnly = controls({ pause: pause({ directions: ['up'] }) });
    assert.equal(reason(decideAction(cfg, 'web', three(), up, { controls: upOnly, at: 2_000 })), 'paused');
    assert.deepEqual(names(decideAction(cfg, 'web', three(), newest, { controls: upOnly, at: 2_000 })), ['web@8082.service']);
  });
  test('a pause with an end holds until then (exclusive), checked at the decision time, not when the job ran', () => {
    const p = pause({ until: 10_000 });
    assert.equal(pauseApplies(p, 'up', 9_999), true);
    assert.equal(pauseApplies(p, 'up', 10_000), false);
    assert.equal(pauseExpired(p, 10_000), true);
    assert.equal(reason(decideAction(cfg, 'web', three(), up, { controls: controls({ pause: p }), at: 9_999 })), 'paused');
    assert.deepEqual(names(decideAction(cfg, 'web', three(), up, { controls: controls({ pause: p }), at: 10_000 })), ['web@8083.service']);
  });
  test('a paused decision says who, until when and why; a pause wins over a dry run', () => {
    const d = decideAction(cfg, 'web', three(), up, { controls: controls({ pause: pause({ until: Date.UTC(2030, 0, 1) }), engineDryRun: true }), at: 2_000 });
    assert.equal(d.outcome === 'suppressed' && d.message, 'web is paused (scaling up and down) by alice until 2030-01-01T00:00:00.000Z: "deploying"');
  });
  test('buildPause: direction, reason and an end, each checked', () => {
    assert.deepEqual(buildPause({ direction: 'up', reason: ' deploy ', forText: '30m', now: 1_000, by: 'bob' }), { pause: { directions: ['up'], reason: 'deploy', until: 1_000 + 1_800_000, at: 1_000, by: 'bob' } });
    assert.deepEqual(buildPause({ reason: 'x', now: 0, by: null }), { pause: { directions: ['up', 'down'], reason: 'x', until: null, at: 0, by: null } });
    assert.match((buildPause({ direction: 'sideways', reason: 'x', now: 0, by: null }) as { error: string }).error, /^direction: must be up, down or both/);
    assert.match((buildPause({ now: 0, by: null }) as { error: string }).error, /^reason: is required/);
    assert.match((buildPause({ reason: '  ', now: 0, by: null }) as { error: string }).error, /^reason: must not be empty/);
    assert.match((buildPause({ reason: 'a\nb', now: 0, by: null }) as { error: string }).error, /^reason: must be one line/);
    assert.match((buildPause({ reason: 'x'.repeat(501), now: 0, by: null }) as { error: string }).error, /^reason: must be at most 500/);
    assert.match((buildPause({ reason: 'x', forText: 'soon', now: 0, by: null }) as { error: string }).error, /^for: must be a duration such as 30m/);
    assert.match((buildPause({ reason: 'x', forText: '400d', now: 0, by: null }) as { error: string }).error, /^for: must be at most/);
    assert.equal(describePause(pause()), 'paused (scaling up and down) by alice until resumed: "deploying"');
  });
  test('parseDuration', () => {
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration(' 90s '), 90_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('250ms'), 250);
    for (const bad of ['', '30', 'm', '1.5h', '-1m', '1 h', '1y']) assert.equal(parseDuration(bad), null, bad);
  });
});

describe('scale-in protection', () => {
  const prot = (...n: string[]) => controls({ protectedInstances: new Set(n) });
  test('the newest unprotected instance goes; a protected one is never chosen', () => {
    assert.deepEqual(names(decideAction(cfg, 'web', three(), newest, { controls: prot('web@8082.service'), at: 0 })), ['web@8081.service']);
  });
  test('every candidate protected: suppressed protected, naming them', () => {
    const d = decideAction(cfg, 'web', three(), newest, { controls: prot('web@8080.service', 'web@8081.service', 'web@8082.service'), at: 0 });
    assert.equal(reason(d), 'protected');
    assert.equal(d.outcome === 'suppressed' && d.message, 'every launched instance of web is protected from scale-in (web@8080.service, web@8081.service, web@8082.service)');
  });
  test('a per-instance fire naming a protected instance removes nothing else: protected', () => {
    const d = decideAction(cfg, 'web', three(), named('web@8081.service'), { controls: prot('web@8081.service'), at: 0 });
    assert.equal(reason(d), 'protected');
    assert.equal(d.outcome === 'suppressed' && d.message, 'web@8081.service of web is protected from scale-in');
  });
  test('min_instance is checked before protection', () => {
    const one = [inst('web@8080.service')];
    assert.equal(reason(decideAction(cfg, 'web', one, newest, { controls: prot('web@8080.service'), at: 0 })), 'min_instance');
  });
  test('scale up ignores protection', () => {
    assert.deepEqual(names(decideAction(cfg, 'web', three(), up, { controls: prot('web@8080.service'), at: 0 })), ['web@8083.service']);
  });
});

describe('scale_up_step and scale_down_step', () => {
  test('a step of 3 creates three instances in one decision, on the lowest free ports', () => {
    assert.deepEqual(names(decideAction(cfg, 'web', [inst('web@8080.service')], up, { controls: NO_CONTROLS, at: 0, step: 3 })), ['web@8081.service', 'web@8082.service', 'web@8083.service']);
  });
  test('max_instance cuts a step short: the decision says how many of the step and why', () => {
    const d = decideAction(cfg, 'web', three(), up, { controls: NO_CONTROLS, at: 0, step: 3 });
    assert.deepEqual(names(d), ['web@8083.service']);
    assert.equal(d.outcome === 'action' && d.short?.reason, 'max_instance');
    const fire: FireEffect = { kind: 'fire', timerId: 't', armedAt: 0, at: 30_000, direction: 'up', decisionId: 'd1', inputs: { samples: 2, newestValue: 95 } };
    const r = fireDecisionRecord({ service: 'web', policy: policy('web_up'), machine: 'u1', step: 3 }, fire, d, countsOf(three()));
    assert.equal(r.inputs['step'], 3);
    assert.match(r.message, /creating web@8083\.service \(1 of a step of 3: web has 4 of max 4 instances \(1 being created\)\); 3 active before$/);
  });
  test('a scale-down step removes the named instance first, then the newest, never below min_instance, never a protected one', () => {
    const four = [...three(), inst('web@8083.service')];
    const d = decideAction(cfg, 'web', four, named('web@8080.service'), { controls: controls({ protectedInstances: new Set(['web@8083.service']) }), at: 0, step: 5 });
    assert.deepEqual(names(d), ['web@8080.service', 'web@8082.service', 'web@8081.service']);
    assert.equal(d.outcome === 'action' && d.short?.reason, 'min_instance');
    const held = decideAction(cfg, 'web', four, newest, { controls: controls({ protectedInstances: new Set(['web@8081.service', 'web@8082.service', 'web@8083.service']) }), at: 0, step: 3 });
    assert.deepEqual(names(held), ['web@8080.service']);
    assert.equal(held.outcome === 'action' && held.short?.reason, 'protected');
    // min_instance 1 of 4 launched: at most 3 go.
    assert.deepEqual(names(decideAction(cfg, 'web', four, newest, { controls: NO_CONTROLS, at: 0, step: 5 })), ['web@8083.service', 'web@8082.service', 'web@8081.service']);
  });
  test('records list every action of a step; the first is `action`', () => {
    const fire: FireEffect = { kind: 'fire', timerId: 't', armedAt: 0, at: 30_000, direction: 'up', decisionId: 'd2', inputs: { samples: 2, newestValue: 95 } };
    const d = decideAction(cfg, 'web', [inst('web@8080.service')], up, { controls: NO_CONTROLS, at: 0, step: 2 });
    const r = fireDecisionRecord({ service: 'web', policy: policy('web_up'), machine: 'u1', step: 2 }, fire, d, countsOf([inst('web@8080.service')]));
    assert.equal(r.action?.instance, 'web@8081.service');
    assert.deepEqual(r.actions?.map((a) => a.instance), ['web@8081.service', 'web@8082.service']);
    assert.match(r.message, /scaling web up, creating web@8081\.service and web@8082\.service; 1 active before$/);
  });
});

describe('several policies: a scale down waits while a scale-up window is armed (the safe side wins)', () => {
  test('an armed scale-up policy suppresses the scale down, naming it', () => {
    const d = decideAction(cfg, 'web', three(), newest, { controls: NO_CONTROLS, at: 0, armedUpPolicies: ['latency_up'] });
    assert.equal(reason(d), 'scale_up_armed');
    assert.equal(d.outcome === 'suppressed' && d.message, 'scale-up policy latency_up is armed for web: the safe side wins, no scale down');
    const two = decideAction(cfg, 'web', three(), newest, { controls: NO_CONTROLS, at: 0, armedUpPolicies: ['cpu_up', 'latency_up'] });
    assert.equal(two.outcome === 'suppressed' && two.message, 'scale-up policies cpu_up, latency_up are armed for web: the safe side wins, no scale down');
  });
  test('none armed: the scale down goes on; a scale up never waits', () => {
    assert.deepEqual(names(decideAction(cfg, 'web', three(), newest, { controls: NO_CONTROLS, at: 0, armedUpPolicies: [] })), ['web@8082.service']);
    assert.deepEqual(names(decideAction(cfg, 'web', three(), up, { controls: NO_CONTROLS, at: 0, armedUpPolicies: ['cpu_up'] })), ['web@8083.service']);
  });
  test('a pause is reported before the armed scale-up', () => {
    assert.equal(reason(decideAction(cfg, 'web', three(), newest, { controls: controls({ pause: pause() }), at: 2_000, armedUpPolicies: ['cpu_up'] })), 'paused');
  });
});
