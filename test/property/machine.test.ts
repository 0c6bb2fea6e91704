import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FUTURE_TOLERANCE_MS,
  INITIAL_MACHINE_STATE,
  isCooldownActive,
  stepMachine,
  type MachineEvent,
  type MachineState,
  type ScalingPolicyConfig,
} from '@dynamite/domain';
import { policy } from '../domain/factory';
import { check } from './support';

/**
 * The policy state machine against any event sequence, any key times (far future, far past, NaN, infinities),
 * any values (NaN and infinities too), any policy durations. The engine's part is modelled as it behaves:
 * receipt times never go back, a timer job runs at or after its expiry (any delay, or never), and a fire
 * starts a cooldown of `cooldown_period` from its expiry. Invariants, checked after every step:
 *   - at most one timer is armed, and it is exactly the state's armed window;
 *   - a fire comes at `period` after its arming, from an event at or after that time, and never inside a cooldown;
 *   - nothing is armed inside a cooldown;
 *   - an ignored sample changes nothing;
 *   - lastSeen never moves back, and never past the newest receipt time plus the future tolerance.
 */

type Command =
  | { kind: 'sample'; dt: number; ts: { kind: 'near'; offset: number } | { kind: 'any'; value: number }; value: number }
  | { kind: 'timer'; delay: number; bogus: boolean };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('sample' as const),
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 10_000_000 })),
      ts: fc.oneof(
        { weight: 5, arbitrary: fc.record({ kind: fc.constant('near' as const), offset: fc.integer({ min: -600_000, max: 600_000 }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('any' as const), value: fc.double() }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('any' as const), value: fc.constantFrom(253402300799999, -62167219200000, Number.MAX_VALUE, NaN, Infinity, -Infinity) }) },
      ),
      value: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 60, max: 100 }) }, { weight: 1, arbitrary: fc.double() }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('timer' as const), delay: fc.integer({ min: 0, max: 120_000 }), bogus: fc.boolean() }) },
);

const policyArb: fc.Arbitrary<ScalingPolicyConfig> = fc
  .record({
    operator: fc.constantFrom('gt' as const, 'lt' as const),
    threshold: fc.oneof(fc.constant(80), fc.double({ noNaN: true, noDefaultInfinity: true })),
    periodMs: fc.integer({ min: 1, max: 300_000 }),
    staleAfterMs: fc.integer({ min: 1, max: 300_000 }),
    cooldownMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 600_000 })),
  })
  .map((over) => policy('p', over));

test('policy state machine invariants hold for any event sequence', () => {
  // What the runs went through, so that a generator that never reaches a fire or a rejection is noticed.
  const seen = { fire: 0, 'arm-timer': 0, 'cancel-timer': 0, record: 0, future_timestamp: 0, out_of_order: 0, bad_timestamp: 0 };
  check(fc.property(policyArb, fc.array(command, { maxLength: 150 }), (p, commands) => {
    let state: MachineState = INITIAL_MACHINE_STATE;
    let clock = 1_700_000_000_000;
    let newestReceipt = -Infinity;
    let cooldownUntil: number | null = null;
    const live = new Set<string>();

    for (const [i, c] of commands.entries()) {
      const where = `command ${i} (${JSON.stringify(c)})`;
      let event: MachineEvent;
      if (c.kind === 'sample') {
        clock += c.dt;
        newestReceipt = clock;
        const ts = c.ts.kind === 'near' ? clock + c.ts.offset : c.ts.value;
        event = { kind: 'sample', sample: { tsKey: `k${i}`, ts, value: c.value, receivedAt: clock } };
      } else {
        // A timer job runs at or after its expiry; a bogus one names no armed timer.
        if (state.armed && !c.bogus) clock = Math.max(clock, state.armed.expiresAt) + c.delay;
        event = { kind: 'timer-expired', timerId: c.bogus || !state.armed ? `bogus${i}` : state.armed.timerId };
      }
      const before = state;
      const cooldownBefore = cooldownUntil;
      const step = stepMachine(state, event, { service: 'web', policy: p, direction: 'up', machine: 'u1', cooldownUntil, now: clock });

      if (step.ignored) seen[step.ignored] += 1;
      for (const effect of step.effects) seen[effect.kind] += 1;
      if (step.ignored) {
        assert.equal(step.state, before, `${where}: an ignored sample changes nothing`);
        assert.deepEqual(step.effects, [], where);
      }
      if (event.kind === 'timer-expired' && before.armed?.timerId === event.timerId) live.delete(event.timerId);
      for (const effect of step.effects) {
        if (effect.kind === 'cancel-timer') {
          assert.ok(live.delete(effect.timerId), `${where}: cancels a timer that is not armed`);
        } else if (effect.kind === 'arm-timer') {
          assert.equal(live.size, 0, `${where}: a second timer armed`);
          live.add(effect.timerId);
          const armedAt = effect.at - p.periodMs;
          assert.ok(!isCooldownActive(cooldownUntil, armedAt), `${where}: armed inside a cooldown`);
        } else if (effect.kind === 'fire') {
          assert.equal(effect.at, effect.armedAt + p.periodMs, `${where}: fire not at period after arming`);
          const eventTime = event.kind === 'sample' ? event.sample.receivedAt : clock;
          assert.ok(eventTime >= effect.at, `${where}: fired before its expiry`);
          assert.ok(!isCooldownActive(cooldownBefore, effect.at), `${where}: fired inside a cooldown`);
          // The engine commits the decision: a cooldown from the expiry.
          cooldownUntil = Math.max(cooldownUntil ?? -Infinity, effect.at + p.cooldownMs);
        }
      }
      state = step.state;
      if (state.armed === null) assert.equal(live.size, 0, `${where}: a timer left armed with no window`);
      else assert.deepEqual([...live], [state.armed.timerId], `${where}: the armed timer is not the window's`);

      if (before.lastSeenTs !== null) assert.ok(state.lastSeenTs !== null && state.lastSeenTs >= before.lastSeenTs, `${where}: lastSeen moved back`);
      if (state.lastSeenTs !== null) {
        assert.ok(Number.isFinite(state.lastSeenTs), `${where}: lastSeen not finite`);
        assert.ok(state.lastSeenTs <= newestReceipt + FUTURE_TOLERANCE_MS, `${where}: lastSeen past receipt + tolerance`);
      }
    }
  }));
  for (const [what, count] of Object.entries(seen)) assert.ok(count > 0, `no ${what} in any run: ${JSON.stringify(seen)}`);
});
