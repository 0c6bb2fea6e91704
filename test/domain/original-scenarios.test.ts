import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { at, policy } from './factory';
import { PolicySim } from './sim';

/**
 * The original's documented timings (original-dynamite.md 4.3-4.4) replayed with receivedAt = sample time.
 * Where the contract agrees, the same samples give the same decisions; fires happen at the window's expiry
 * (a timer), where the original waited for the first sample after it. Deliberate differences are asserted too.
 */

const sec = (n: number) => n * 1000;

describe('original 4.4: double scale-up, period 60 s, cooldown 120 s', () => {
  const P = policy('scale_up', { periodMs: sec(60), cooldownMs: sec(120), staleAfterMs: sec(60), threshold: 80, operator: 'gt' });
  const start = at('2015-07-28T07:58:14.632Z');
  // Breaching samples every 5 s from 07:58:14.632 to 07:59:19.632, two during the cooldown, then every 5 s
  // from 08:01:20.632 to 08:02:25.632 (the original's second period started at 08:01:20.632).
  const samples: number[] = [];
  for (let t = start; t <= at('2015-07-28T07:59:19.632Z'); t += sec(5)) samples.push(t);
  samples.push(at('2015-07-28T08:00:00.632Z'), at('2015-07-28T08:01:00.632Z'));
  for (let t = at('2015-07-28T08:01:20.632Z'); t <= at('2015-07-28T08:02:25.632Z'); t += sec(5)) samples.push(t);

  function replay(timerDelay: (due: number) => number | null) {
    const sim = new PolicySim({ policy: P, timerDelay });
    for (const t of samples) sim.sample('u1', t, 95);
    sim.runTimersUntil(at('2015-07-28T08:10:00Z'));
    return sim;
  }

  test('two fires: at the end of each 60 s window (the original fired on the next sample, 1 s later)', () => {
    const sim = replay(() => 0);
    assert.deepEqual(
      sim.fires.map((f) => new Date(f.at).toISOString()),
      ['2015-07-28T07:59:14.632Z', '2015-07-28T08:02:20.632Z'],
    );
    assert.deepEqual(
      sim.fires.map((f) => new Date(f.armedAt).toISOString()),
      ['2015-07-28T07:58:14.632Z', '2015-07-28T08:01:20.632Z'],
    );
  });

  test('the cooldown runs to 08:01:14.632 as in the original (it starts at the window end)', () => {
    const sim = replay(() => 0);
    const after = sim.steps.find((s) => s.now > sim.fires[0]!.at && s.cooldownBefore !== null)!;
    assert.equal(new Date(after.cooldownBefore!).toISOString(), '2015-07-28T08:01:14.632Z');
    const cooldownRecords = sim.records.filter((r) => r.reason === 'cooldown' && r.at < sim.fires[1]!.at);
    assert.equal(cooldownRecords.length, 1, 'one cooldown record for the whole first cooldown');
    assert.equal(new Date(cooldownRecords[0]!.at).toISOString(), '2015-07-28T07:59:14.632Z');
  });

  test('the same decisions, ids included, when the timer jobs are late or lost and samples close the windows', () => {
    const onTime = replay(() => 0).fires.map(({ decisionId, at: t, armedAt, inputs }) => ({ decisionId, t, armedAt, inputs }));
    for (const delay of [() => 700, () => sec(4), () => null]) {
      const other = replay(delay).fires.map(({ decisionId, at: t, armedAt, inputs }) => ({ decisionId, t, armedAt, inputs }));
      assert.deepEqual(other, onTime);
    }
  });
});

describe('original 4.3: period 30 s, gt 80', () => {
  const P = policy('p', { periodMs: sec(30), cooldownMs: sec(60), staleAfterMs: sec(60) });
  const t0 = at('2015-07-28T00:00:00Z');

  test('90@0 s, 95@20 s, 10@31 s: fires (at 30 s), as the original did (at 31 s)', () => {
    const sim = new PolicySim({ policy: P });
    sim.sample('u1', t0, 90);
    sim.sample('u1', t0 + sec(20), 95);
    sim.sample('u1', t0 + sec(31), 10);
    assert.deepEqual(sim.fires.map((f) => f.at - t0), [sec(30)]);
  });

  test('difference (bug 7.3.3): one breaching sample plus a late one does not fire', () => {
    const sim = new PolicySim({ policy: P });
    sim.sample('u1', t0, 90);
    sim.sample('u1', t0 + sec(31), 10);
    assert.equal(sim.fires.length, 0);
    assert.deepEqual(sim.records.map((r) => `${r.outcome}/${r.reason}`), ['armed/null', 'suppressed/too_few_samples']);
  });

  test('difference (bug 7.3.1): silence after breaching samples fires nothing once stale', () => {
    const sim = new PolicySim({ policy: { ...P, periodMs: sec(120) } });
    sim.sample('u1', t0, 90);
    sim.sample('u1', t0 + sec(5), 95);
    sim.runTimersUntil(t0 + sec(600));
    assert.equal(sim.fires.length, 0);
    assert.equal(sim.records.at(-1)!.reason, 'stale');
  });
});

describe('original 4.4: cooldown boundaries and other machines', () => {
  const P = policy('p', { periodMs: sec(30), cooldownMs: sec(60), staleAfterMs: sec(60) });
  const t0 = at('2015-07-28T00:00:00Z');

  function fired() {
    const sim = new PolicySim({ policy: P });
    sim.sample('u1', t0, 90);
    sim.sample('u1', t0 + sec(15), 90);
    sim.runTimersUntil(t0 + sec(30));
    assert.equal(sim.fires.length, 1);
    assert.equal(sim.cooldownUntil, t0 + sec(90));
    return sim;
  }

  test('a breaching sample just before 00:01:30 is held by the cooldown', () => {
    const sim = fired();
    sim.sample('u1', t0 + sec(89.999), 95);
    assert.equal(sim.state('u1').armed, null);
  });

  test('difference: at 00:01:30 itself the cooldown is over (the original was inclusive and waited for 00:01:31)', () => {
    const sim = fired();
    sim.sample('u1', t0 + sec(90), 95);
    assert.equal(sim.state('u1').armed?.armedAt, t0 + sec(90));
  });

  test('the cooldown is shared by all machines of the policy', () => {
    const sim = fired();
    sim.sample('u2', t0 + sec(40), 99);
    sim.sample('u2', t0 + sec(50), 99);
    assert.equal(sim.state('u2').armed, null);
    assert.equal(sim.records.filter((r) => r.machine === 'u2' && r.reason === 'cooldown').length, 1);
  });

  test('difference (bug 7.3.2): a machine armed before the cooldown never fires on a post-cooldown sample', () => {
    const sim = new PolicySim({ policy: P });
    sim.sample('u1', t0, 90, t0 + sec(1)); // u1 arms, expires at 31
    sim.sample('u2', t0 + sec(5), 95); // u2 arms, expires at 35
    sim.sample('u1', t0 + sec(15), 90);
    sim.runTimersUntil(t0 + sec(31)); // u1 fires at 31: cooldown until 91
    sim.sample('u2', t0 + sec(20), 95, t0 + sec(32)); // u2 keeps counting
    sim.runTimersUntil(t0 + sec(40)); // u2's window closes inside the cooldown
    sim.sample('u2', t0 + sec(95), 1); // the original fired here, whatever the value
    sim.runTimersUntil(t0 + sec(600));
    assert.deepEqual(sim.fires.map((f) => f.machine), ['u1']);
    assert.ok(sim.records.some((r) => r.machine === 'u2' && r.reason === 'cooldown' && r.at === t0 + sec(35)));
  });

  test('a policy held at its bound (no cooldown started) fires again after the next full window', () => {
    const sim = new PolicySim({ policy: P, commits: () => false });
    for (let t = 0; t <= 70; t += 5) sim.sample('u1', t0 + sec(t), 95);
    sim.runTimersUntil(t0 + sec(200));
    // The window 0..30 fires at 30 (its timer runs before the sample at 30, which then arms 30..60), and so on;
    // the last window, armed at 60, holds samples up to 70 (fresh at 90).
    assert.deepEqual(sim.fires.map((f) => (f.at - t0) / 1000), [30, 60, 90]);
  });
});
