import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBreaching, isCooldownActive, type ScalingPolicyConfig } from '@dynamite/domain';
import { policy, prng } from './factory';
import { PolicySim } from './sim';

/**
 * Random event sequences (seeded, so failures reproduce) against invariants checked from the raw event log,
 * independently of the machine's own bookkeeping:
 *   - a fire needs >= 2 accepted breaching samples of that machine inside [armedAt, expiresAt), no accepted
 *     non-breaching one, and the newest no older than stale_after at expiry;
 *   - nothing fires, and nothing arms, while the cooldown is active;
 *   - a fire happens at its window's expiry, once per window.
 */

const MACHINES = ['u1', 'u2', 'u3'];

interface Accepted { machine: string; receivedAt: number; value: number }

function scenario(seed: number, p: ScalingPolicyConfig) {
  const rand = prng(seed);
  const sim = new PolicySim({
    policy: p,
    // timer jobs usually on time, sometimes late, sometimes lost
    timerDelay: () => {
      const r = rand();
      return r < 0.6 ? 0 : r < 0.9 ? Math.floor(rand() * 8000) : null;
    },
    // some decisions are held at a bound and start no cooldown
    commits: () => rand() < 0.8,
  });
  const newestTs = new Map<string, number>();
  const accepted: Accepted[] = [];
  let now = 1_600_000_000_000;
  for (let i = 0; i < 400; i += 1) {
    now += Math.floor(rand() * 6000);
    const machine = MACHINES[Math.floor(rand() * MACHINES.length)]!;
    const prev = newestTs.get(machine) ?? now - 10_000;
    // mostly newer keys, sometimes duplicates or older ones
    const r = rand();
    const ts = r < 0.8 ? now - Math.floor(rand() * 500) : r < 0.9 ? prev : prev - Math.floor(rand() * 5000);
    const value = p.threshold + (rand() < 0.75 ? 1 : -1) * Math.floor(rand() * 20) * (rand() < 0.1 ? 0 : 1);
    const step = sim.sample(machine, ts, value, now);
    const isNew = !newestTs.has(machine) || ts > newestTs.get(machine)!;
    assert.equal(step.ignored === 'out_of_order', !isNew, 'ignored exactly when not newer than the newest seen');
    if (isNew) {
      newestTs.set(machine, ts);
      accepted.push({ machine, receivedAt: now, value });
    }
  }
  sim.runTimersUntil(now + 3_600_000);
  return { sim, accepted };
}

const policies: [string, ScalingPolicyConfig][] = [
  ['gt, period 30 s, cooldown 60 s, stale 20 s', policy('a', { periodMs: 30_000, cooldownMs: 60_000, staleAfterMs: 20_000 })],
  ['lt, period 10 s, cooldown 5 s, stale 60 s', policy('b', { operator: 'lt', threshold: 20, periodMs: 10_000, cooldownMs: 5_000, staleAfterMs: 60_000 })],
  ['gt, period 60 s, no cooldown, stale 15 s', policy('c', { periodMs: 60_000, cooldownMs: 0, staleAfterMs: 15_000 })],
];

describe('state machine invariants over random event sequences', () => {
  for (const [name, p] of policies) {
    test(name, () => {
      let totalFires = 0;
      let totalSuppressed = 0;
      for (let seed = 1; seed <= 40; seed += 1) {
        const { sim, accepted } = scenario(seed * 7919, p);
        const ids = new Set<string>();
        for (const fire of sim.fires) {
          const where = `seed ${seed * 7919}, fire ${fire.decisionId}`;
          assert.equal(fire.at, fire.armedAt + p.periodMs, where);
          assert.ok(!ids.has(fire.decisionId), `${where}: fired twice`);
          ids.add(fire.decisionId);
          const window = accepted.filter((a) => a.machine === fire.machine && a.receivedAt >= fire.armedAt && a.receivedAt < fire.at);
          assert.ok(window.length >= 2, `${where}: ${window.length} samples in the window`);
          assert.ok(window.every((a) => isBreaching(p, a.value)), `${where}: a non-breaching sample in the window`);
          assert.ok(fire.at - window.at(-1)!.receivedAt <= p.staleAfterMs, `${where}: newest sample stale`);
          assert.ok(!isCooldownActive(fire.cooldownBefore, fire.now), `${where}: fired during a cooldown`);
          assert.ok(!isCooldownActive(fire.cooldownBefore, fire.at), `${where}: window ended inside a cooldown`);
        }
        for (const step of sim.steps) {
          for (const effect of step.result.effects) {
            if (effect.kind === 'arm-timer' && step.event.kind === 'sample') {
              assert.ok(!isCooldownActive(step.cooldownBefore, step.event.sample.receivedAt), `seed ${seed}: armed during a cooldown`);
              assert.ok(isBreaching(p, step.event.sample.value), `seed ${seed}: armed on a non-breaching sample`);
            }
          }
        }
        // one cooldown record per machine and cooldown
        const noted = sim.records.filter((r) => r.reason === 'cooldown').map((r) => `${r.machine}|${r.inputs['cooldownUntil']}`);
        assert.equal(new Set(noted).size, noted.length, `seed ${seed}: repeated cooldown records`);
        totalFires += sim.fires.length;
        totalSuppressed += sim.records.filter((r) => r.outcome === 'suppressed').length;
      }
      // The generator must actually exercise both paths, or the test proves nothing.
      assert.ok(totalFires > 20, `only ${totalFires} fires`);
      assert.ok(totalSuppressed > 20, `only ${totalSuppressed} suppressions`);
    });
  }

  test('replaying the same seed gives identical records and fires', () => {
    const p = policies[0]![1];
    const a = scenario(42, p);
    const b = scenario(42, p);
    assert.deepEqual(a.sim.records, b.sim.records);
    assert.deepEqual(a.sim.fires, b.sim.fires);
  });
});
