import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INITIAL_MACHINE_STATE,
  deterministicId,
  isBreaching,
  stepMachine,
  type MachineContext,
  type MachineEffect,
  type MachineEvent,
  type MachineState,
} from '@dynamite/domain';
import { policy } from './factory';

// period 30 s, cooldown 60 s, stale after 20 s, cpu_user gt 80.
const P = policy('cpu_up', { periodMs: 30_000, cooldownMs: 60_000, staleAfterMs: 20_000, threshold: 80, operator: 'gt' });
const T0 = Date.parse('2015-07-28T13:00:00.000Z');
const s = (sec: number) => T0 + sec * 1000;

function ctx(over: Partial<MachineContext> = {}): MachineContext {
  return { service: 'apache', policy: P, direction: 'up', machine: 'u1', cooldownUntil: null, now: s(0), ...over };
}

function sample(sec: number, value: number, receivedSec = sec): MachineEvent {
  return { kind: 'sample', sample: { tsKey: new Date(s(sec)).toISOString(), ts: s(sec), value, receivedAt: s(receivedSec) } };
}

/** Runs events from a state, each with ctx.now = the event's receipt (timers: their own `now`). */
function run(events: [MachineEvent, Partial<MachineContext>?][], from: MachineState = INITIAL_MACHINE_STATE) {
  let state = from;
  const steps = [];
  for (const [event, over] of events) {
    const now = event.kind === 'sample' ? event.sample.receivedAt : (over?.now ?? 0);
    const step = stepMachine(state, event, ctx({ now, ...over }));
    steps.push(step);
    state = step.state;
  }
  return { state, steps };
}

const kinds = (effects: MachineEffect[]) =>
  effects.map((e) => (e.kind === 'record' ? `record:${e.record.outcome}${e.record.reason ? `/${e.record.reason}` : ''}` : e.kind));

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function armedAfter(...events: [MachineEvent, Partial<MachineContext>?][]): MachineState {
  const { state } = run(events);
  assert.ok(state.armed, 'armed');
  return state;
}

describe('isBreaching is strict', () => {
  const cases: ['gt' | 'lt', number, boolean][] = [
    ['gt', 80.0001, true],
    ['gt', 80, false],
    ['gt', 79, false],
    ['lt', 79.999, true],
    ['lt', 80, false],
    ['lt', 81, false],
  ];
  for (const [operator, value, expected] of cases) {
    test(`${value} ${operator} 80 -> ${expected}`, () => assert.equal(isBreaching({ ...P, operator }, value), expected));
  }
});

describe('arming', () => {
  test('a breaching sample arms a timer at receivedAt + period, with an armed record', () => {
    const step = stepMachine(INITIAL_MACHINE_STATE, sample(0, 90, 2), ctx({ now: s(2) }));
    const timerId = deterministicId(s(2), 'apache', 'cpu_up', 'u1', new Date(s(0)).toISOString());
    assert.deepEqual(step.state.armed, {
      timerId,
      armedAt: s(2),
      expiresAt: s(32),
      samples: 1,
      firstSampleKey: new Date(s(0)).toISOString(),
      newestSampleKey: new Date(s(0)).toISOString(),
      newestValue: 90,
      newestReceivedAt: s(2),
    });
    assert.equal(step.state.lastSeenTs, s(0));
    assert.equal(step.state.lastSeenKey, new Date(s(0)).toISOString());
    assert.deepEqual(kinds(step.effects), ['arm-timer', 'record:armed']);
    assert.deepEqual(step.effects[0], { kind: 'arm-timer', timerId, at: s(32) });
    const record = (step.effects[1] as Extract<MachineEffect, { kind: 'record' }>).record;
    assert.equal(record.at, s(2));
    assert.equal(record.service, 'apache');
    assert.equal(record.policy, 'cpu_up');
    assert.equal(record.machine, 'u1');
    assert.equal(record.direction, 'up');
    assert.equal(record.rule, 'cpu_user gt 80 for 30s (cooldown 1m)');
    assert.equal(record.action, null);
    assert.match(record.message, /90 is above 80 on instance u1.*armed; fires at 2015-07-28T13:00:32.000Z/);
    assert.equal(step.ignored, undefined);
  });

  test('a non-breaching sample on an idle machine only advances lastSeen', () => {
    const step = stepMachine(INITIAL_MACHINE_STATE, sample(0, 80), ctx());
    assert.deepEqual(step.effects, []);
    assert.deepEqual(step.state, { ...INITIAL_MACHINE_STATE, lastSeenKey: new Date(s(0)).toISOString(), lastSeenTs: s(0) });
  });

  test('lt policies arm below the threshold', () => {
    const down = { ...P, operator: 'lt' as const, threshold: 10 };
    const step = stepMachine(INITIAL_MACHINE_STATE, sample(0, 3), ctx({ policy: down, direction: 'down' }));
    assert.deepEqual(kinds(step.effects), ['arm-timer', 'record:armed']);
    assert.match((step.effects[1] as Extract<MachineEffect, { kind: 'record' }>).record.message, /3 is below 10/);
  });

  test('armed + breaching counts the sample without effects', () => {
    const { state, steps } = run([[sample(0, 90)], [sample(5, 95, 6)]]);
    assert.deepEqual(steps[1]!.effects, []);
    assert.equal(state.armed!.samples, 2);
    assert.equal(state.armed!.newestValue, 95);
    assert.equal(state.armed!.newestReceivedAt, s(6));
    assert.equal(state.armed!.newestSampleKey, new Date(s(5)).toISOString());
    assert.equal(state.armed!.firstSampleKey, new Date(s(0)).toISOString());
    assert.equal(state.armed!.expiresAt, s(30), 'more samples never extend the window');
  });

  test('armed + not breaching disarms: cancel-timer and a disarmed record', () => {
    const armed = armedAfter([sample(0, 90)], [sample(5, 95)]);
    const step = stepMachine(armed, sample(10, 80), ctx({ now: s(10) }));
    assert.equal(step.state.armed, null);
    assert.deepEqual(kinds(step.effects), ['cancel-timer', 'record:disarmed']);
    assert.deepEqual(step.effects[0], { kind: 'cancel-timer', timerId: armed.armed!.timerId });
    const record = (step.effects[1] as Extract<MachineEffect, { kind: 'record' }>).record;
    assert.equal(record.at, s(10));
    assert.match(record.message, /80 is not above 80.*disarmed after 2 breaching samples/);
  });

  test('after a disarm, the next breaching sample arms a new window', () => {
    const { state, steps } = run([[sample(0, 90)], [sample(5, 10)], [sample(8, 99)]]);
    assert.deepEqual(kinds(steps[2]!.effects), ['arm-timer', 'record:armed']);
    assert.equal(state.armed!.armedAt, s(8));
    assert.notEqual(state.armed!.timerId, steps[0]!.state.armed!.timerId);
  });
});

describe('expiry', () => {
  const expire = (state: MachineState, over: Partial<MachineContext> = {}) =>
    stepMachine(state, { kind: 'timer-expired', timerId: state.armed!.timerId }, ctx({ now: state.armed!.expiresAt, ...over }));

  test('two or more fresh breaching samples fire at expiry', () => {
    const armed = armedAfter([sample(0, 90)], [sample(15, 91)], [sample(25, 92)]);
    const step = expire(armed);
    assert.equal(step.state.armed, null);
    assert.equal(step.effects.length, 1);
    const fire = step.effects[0]!;
    assert.equal(fire.kind, 'fire');
    if (fire.kind !== 'fire') return;
    assert.equal(fire.timerId, armed.armed!.timerId);
    assert.equal(fire.armedAt, s(0));
    assert.equal(fire.at, s(30));
    assert.equal(fire.direction, 'up');
    assert.equal(fire.decisionId, deterministicId(s(30), 'fire', 'apache', 'cpu_up', 'u1', armed.armed!.timerId));
    assert.equal(fire.inputs['samples'], 3);
    assert.equal(fire.inputs['newestValue'], 92);
    assert.equal(fire.inputs['newestSampleKey'], new Date(s(25)).toISOString());
    assert.equal(fire.inputs['armedAt'], s(0));
    assert.equal(fire.inputs['expiresAt'], s(30));
    assert.equal(fire.inputs['rule'], 'cpu_user gt 80 for 30s (cooldown 1m)');
  });

  test('exactly stale_after of quiet still fires; one ms more is stale', () => {
    assert.equal(expire(armedAfter([sample(0, 90)], [sample(10, 91)])).effects[0]!.kind, 'fire');
    const stale = expire(armedAfter([sample(0, 90)], [sample(9.999, 91)]));
    assert.deepEqual(kinds(stale.effects), ['record:suppressed/stale']);
    const record = (stale.effects[0] as Extract<MachineEffect, { kind: 'record' }>).record;
    assert.equal(record.at, s(30));
    assert.match(record.message, /silence is not load/);
    assert.equal(stale.state.armed, null);
  });

  test('stale on a scale-down policy: silence is not idleness', () => {
    const down = { ...P, operator: 'lt' as const, threshold: 10 };
    const c = { policy: down, direction: 'down' as const };
    const { state } = run([[sample(0, 1), c], [sample(1, 2), c]]);
    const step = stepMachine(state, { kind: 'timer-expired', timerId: state.armed!.timerId }, ctx({ ...c, now: s(30) }));
    assert.match((step.effects[0] as Extract<MachineEffect, { kind: 'record' }>).record.message, /silence is not idleness/);
  });

  test('a single breaching sample is too few, even when fresh', () => {
    const step = expire(armedAfter([sample(0, 90)]), { policy: { ...P, staleAfterMs: 60_000 } });
    assert.deepEqual(kinds(step.effects), ['record:suppressed/too_few_samples']);
    assert.equal(step.state.armed, null);
  });

  test('too few takes precedence over stale in the reported reason', () => {
    // one sample, 30 s of quiet > 20 s stale_after: both apply.
    const step = expire(armedAfter([sample(0, 90)]));
    assert.deepEqual(kinds(step.effects), ['record:suppressed/too_few_samples']);
  });

  test('a timer job that runs late decides exactly as an on-time one', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 91)]);
    assert.deepEqual(expire(armed, { now: s(31.5) }), expire(armed));
  });

  test('a stale timer id is a no-op, armed or not', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 91)]);
    const a = stepMachine(armed, { kind: 'timer-expired', timerId: 'old' }, ctx({ now: s(30) }));
    assert.equal(a.state, armed);
    assert.deepEqual(a.effects, []);
    const idle = run([[sample(0, 90)], [sample(5, 1)]]).state;
    const b = stepMachine(idle, { kind: 'timer-expired', timerId: armed.armed!.timerId }, ctx({ now: s(30) }));
    assert.equal(b.state, idle);
    assert.deepEqual(b.effects, []);
  });

  test('the job of a disarmed window does nothing after a new window armed', () => {
    const first = run([[sample(0, 90)]]).state.armed!.timerId;
    const { state } = run([[sample(0, 90)], [sample(5, 1)], [sample(10, 95)], [sample(20, 96)]]);
    const step = stepMachine(state, { kind: 'timer-expired', timerId: first }, ctx({ now: s(30) }));
    assert.equal(step.state, state);
    assert.deepEqual(step.effects, []);
  });
});

describe('cooldown', () => {
  const cooling = { cooldownUntil: s(100) };

  test('a breaching sample during the cooldown arms nothing and leaves one record per cooldown', () => {
    const { state, steps } = run([
      [sample(10, 90), cooling],
      [sample(20, 95), cooling],
      [sample(30, 99), cooling],
    ]);
    assert.equal(state.armed, null);
    assert.deepEqual(kinds(steps[0]!.effects), ['record:suppressed/cooldown']);
    assert.deepEqual(steps[1]!.effects, []);
    assert.deepEqual(steps[2]!.effects, []);
    assert.equal(state.cooldownNotedUntil, s(100));
    const record = (steps[0]!.effects[0] as Extract<MachineEffect, { kind: 'record' }>).record;
    assert.match(record.message, /cooldown of apache\/cpu_up runs until 2015-07-28T13:01:40.000Z/);
    assert.equal(record.inputs['cooldownUntil'], s(100));
  });

  test('a later cooldown gets its own record', () => {
    const { steps } = run([
      [sample(10, 90), cooling],
      [sample(200, 95), { cooldownUntil: s(250) }],
      [sample(210, 95), { cooldownUntil: s(250) }],
    ]);
    assert.deepEqual(steps.map((x) => kinds(x.effects)), [['record:suppressed/cooldown'], ['record:suppressed/cooldown'], []]);
  });

  test('non-breaching samples during the cooldown leave no record', () => {
    const { steps } = run([[sample(10, 50), cooling]]);
    assert.deepEqual(steps[0]!.effects, []);
  });

  test('the cooldown end is exclusive: at `until` samples arm again', () => {
    assert.deepEqual(kinds(run([[sample(99.999, 90), cooling]]).steps[0]!.effects), ['record:suppressed/cooldown']);
    assert.deepEqual(kinds(run([[sample(100, 90), cooling]]).steps[0]!.effects), ['arm-timer', 'record:armed']);
  });

  test('an expired cooldown (until in the past) does not suppress', () => {
    assert.deepEqual(kinds(run([[sample(150, 90), cooling]]).steps[0]!.effects), ['arm-timer', 'record:armed']);
  });

  test('a non-breaching sample disarms an armed window during a cooldown', () => {
    const armed = armedAfter([sample(0, 90)]);
    const step = stepMachine(armed, sample(5, 10), ctx({ now: s(5), ...cooling }));
    assert.deepEqual(kinds(step.effects), ['cancel-timer', 'record:disarmed']);
  });

  test('an armed window keeps counting breaching samples during a cooldown (another machine fired)', () => {
    const armed = armedAfter([sample(0, 90)]);
    const step = stepMachine(armed, sample(5, 91), ctx({ now: s(5), ...cooling }));
    assert.deepEqual(step.effects, []);
    assert.equal(step.state.armed!.samples, 2);
  });

  test('a window closing inside a cooldown is suppressed (cooldown), and notes the cooldown', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 95)]);
    const step = stepMachine(armed, { kind: 'timer-expired', timerId: armed.armed!.timerId }, ctx({ now: s(30), ...cooling }));
    assert.deepEqual(kinds(step.effects), ['record:suppressed/cooldown']);
    assert.equal(step.state.armed, null);
    assert.equal(step.state.cooldownNotedUntil, s(100));
    // ... so a breaching sample in the same cooldown adds no second record.
    const next = stepMachine(step.state, sample(40, 99), ctx({ now: s(40), ...cooling }));
    assert.deepEqual(next.effects, []);
  });

  test('a window that ended inside a cooldown stays suppressed when its job runs after the cooldown', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 95)]);
    const e: MachineEvent = { kind: 'timer-expired', timerId: armed.armed!.timerId };
    const onTime = stepMachine(armed, e, ctx({ now: s(30), cooldownUntil: s(40) }));
    const late = stepMachine(armed, e, ctx({ now: s(45), cooldownUntil: s(40) }));
    assert.deepEqual(kinds(onTime.effects), ['record:suppressed/cooldown']);
    assert.deepEqual(late, onTime);
  });

  test('a late timer job sees a cooldown committed after the expiry by another machine', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 95)]);
    const step = stepMachine(
      armed,
      { kind: 'timer-expired', timerId: armed.armed!.timerId },
      ctx({ now: s(31), cooldownUntil: s(91) }), // another machine fired at 31
    );
    assert.deepEqual(kinds(step.effects), ['record:suppressed/cooldown']);
  });

  test('a cooldown that ended before the expiry does not suppress', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 95)]);
    const step = stepMachine(armed, { kind: 'timer-expired', timerId: armed.armed!.timerId }, ctx({ now: s(30), cooldownUntil: s(30) }));
    assert.equal(step.effects[0]!.kind, 'fire');
  });

  test('stale takes precedence over cooldown in the reported reason', () => {
    const armed = armedAfter([sample(0, 90)], [sample(1, 95)]);
    const step = stepMachine(armed, { kind: 'timer-expired', timerId: armed.armed!.timerId }, ctx({ now: s(30), ...cooling }));
    assert.deepEqual(kinds(step.effects), ['record:suppressed/stale']);
    assert.equal(step.state.cooldownNotedUntil, null);
  });
});

describe('out-of-order and duplicate samples', () => {
  const base = armedAfter([sample(0, 90)], [sample(10, 95)]);
  const cases: [string, MachineEvent][] = [
    ['a duplicate of the newest sample', sample(10, 10, 12)],
    ['an older sample', sample(5, 10, 12)],
    ['an older breaching sample', sample(1, 99, 12)],
    ['the same instant written with an offset', {
      kind: 'sample',
      sample: { tsKey: '2015-07-28T15:00:10+02:00', ts: s(10), value: 10, receivedAt: s(12) },
    }],
  ];
  for (const [name, event] of cases) {
    test(`${name} is ignored entirely`, () => {
      const step = stepMachine(base, event, ctx({ now: s(12) }));
      assert.equal(step.ignored, 'out_of_order');
      assert.equal(step.state, base);
      assert.deepEqual(step.effects, []);
    });
  }
  test('ordering is by key time, not by arrival; a newer key arriving late is accepted', () => {
    const step = stepMachine(base, sample(11, 96, 29), ctx({ now: s(29) }));
    assert.equal(step.ignored, undefined);
    assert.equal(step.state.armed!.samples, 3);
  });
  test('the first sample of a machine is always new', () => {
    assert.equal(stepMachine(INITIAL_MACHINE_STATE, sample(-1000, 1), ctx()).ignored, undefined);
  });
});

describe('a sample received after the expiry, before the timer job', () => {
  test('closes the window first, exactly as the timer would have, and is not used to arm', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 95)]);
    const onTime = stepMachine(armed, { kind: 'timer-expired', timerId: armed.armed!.timerId }, ctx({ now: s(30) }));
    const late = stepMachine(armed, sample(31, 99), ctx({ now: s(31) }));
    assert.deepEqual(kinds(late.effects), ['cancel-timer', 'fire']);
    assert.deepEqual(late.effects[0], { kind: 'cancel-timer', timerId: armed.armed!.timerId });
    assert.deepEqual(late.effects[1], onTime.effects[0]);
    assert.equal(late.state.armed, null, 'the fire starts a cooldown this sample falls into');
    assert.equal(late.state.lastSeenTs, s(31));
    // The timer job, when it finally runs, is stale.
    const job = stepMachine(late.state, { kind: 'timer-expired', timerId: armed.armed!.timerId }, ctx({ now: s(32) }));
    assert.deepEqual(job.effects, []);
    assert.equal(job.state, late.state);
  });

  test('a sample received exactly at the expiry is already after it', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 95)]);
    assert.deepEqual(kinds(stepMachine(armed, sample(30, 99), ctx({ now: s(30) })).effects), ['cancel-timer', 'fire']);
    assert.deepEqual(kinds(stepMachine(armed, sample(29.999, 99), ctx({ now: s(29.999) })).effects), []);
  });

  test('a non-breaching late sample still lets the full window fire (it arrived after the window)', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 95)]);
    assert.deepEqual(kinds(stepMachine(armed, sample(31, 1), ctx({ now: s(31) })).effects), ['cancel-timer', 'fire']);
  });

  test('when the window does not fire, the late sample is processed normally and may arm', () => {
    const armed = armedAfter([sample(0, 90)]);
    const step = stepMachine(armed, sample(40, 99), ctx({ now: s(40) }));
    assert.deepEqual(kinds(step.effects), ['cancel-timer', 'record:suppressed/too_few_samples', 'arm-timer', 'record:armed']);
    assert.equal(step.state.armed!.armedAt, s(40));
    const record = (step.effects[1] as Extract<MachineEffect, { kind: 'record' }>).record;
    assert.equal(record.at, s(30), 'the suppression is dated at the expiry, not at the late sample');
  });

  test('an out-of-order sample never closes a window', () => {
    const armed = armedAfter([sample(0, 90)], [sample(20, 95)]);
    const step = stepMachine(armed, sample(5, 99, 40), ctx({ now: s(40) }));
    assert.equal(step.ignored, 'out_of_order');
    assert.equal(step.state, armed);
  });
});

describe('determinism and purity', () => {
  const script: [MachineEvent, Partial<MachineContext>?][] = [
    [sample(0, 90)],
    [sample(10, 91)],
    [sample(5, 1)],
    [sample(31, 92)],
    [sample(40, 93), { cooldownUntil: s(90) }],
    [sample(50, 5), { cooldownUntil: s(90) }],
    [sample(95, 99), { cooldownUntil: s(90) }],
    [sample(200, 99)],
  ];
  test('the same inputs give identical outputs, ids included', () => {
    assert.deepEqual(run(script), run(script));
  });
  test('record and timer ids do not depend on the clock (ctx.now) of a sample step', () => {
    const a = stepMachine(INITIAL_MACHINE_STATE, sample(0, 90, 1), ctx({ now: s(1) }));
    const b = stepMachine(INITIAL_MACHINE_STATE, sample(0, 90, 1), ctx({ now: s(500) }));
    assert.deepEqual(a, b);
  });
  test('record ids are distinct across a run', () => {
    const ids = run(script).steps.flatMap((x) => x.effects.flatMap((e) => (e.kind === 'record' ? [e.record.id] : [])));
    assert.ok(ids.length >= 4);
    assert.equal(new Set(ids).size, ids.length);
  });
  test('ids differ per machine, policy and service', () => {
    const id = (over: Partial<MachineContext>) =>
      stepMachine(INITIAL_MACHINE_STATE, sample(0, 90), ctx(over)).state.armed!.timerId;
    const ids = [id({}), id({ machine: 'u2' }), id({ service: 'other' }), id({ policy: { ...P, name: 'p2' } })];
    assert.equal(new Set(ids).size, 4);
  });
  test('inputs are never mutated', () => {
    const state = deepFreeze(armedAfter([sample(0, 90)], [sample(10, 95)]));
    const snapshot = JSON.stringify(state);
    stepMachine(state, sample(20, 96), ctx({ now: s(20) }));
    stepMachine(state, sample(21, 1), ctx({ now: s(21) }));
    stepMachine(state, sample(40, 1), ctx({ now: s(40) }));
    stepMachine(state, { kind: 'timer-expired', timerId: state.armed!.timerId }, ctx({ now: s(30) }));
    assert.equal(JSON.stringify(state), snapshot);
  });
  test('states survive a JSON round trip (they are stored in etcd)', () => {
    const { state } = run(script.slice(0, 2));
    const restored = JSON.parse(JSON.stringify(state)) as MachineState;
    const e: MachineEvent = { kind: 'timer-expired', timerId: state.armed!.timerId };
    assert.deepEqual(stepMachine(restored, e, ctx({ now: s(30) })), stepMachine(state, e, ctx({ now: s(30) })));
  });
});
