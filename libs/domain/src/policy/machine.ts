import type { ScalingPolicyConfig } from '../config/types';
import { deterministicId } from '../jobs/contracts';
import { AGGREGATE_MACHINE } from '../keys/layout';
import { isCooldownActive } from './cooldown';
import { describeRule, type DecisionOutcome, type DecisionRecord, type SuppressReason } from './decision-record';
import { formatDuration } from './durations';

/**
 * The policy state machine: one per (service, policy, machine), machine = instance uuid or `_aggregate`.
 * `stepMachine` is the only place a period is armed, disarmed, fired or suppressed. It is a pure function of
 * (state, event, context): the engine keeps the state in etcd, runs the step in a transaction, and carries out
 * the effects (delayed timer jobs, decision records, and `decideScaling` for a fire).
 *
 * Time: windows are measured in wall time (`receivedAt`, when the engine saw the sample), not in the producer's
 * timestamps, which only order samples and drop duplicates. A window fires at its expiry, not on the next
 * sample, and only when it held at least two breaching samples, the newest recent enough: silence is never
 * load, and never idleness.
 */

export interface ArmedTimer {
  /** deterministicId(armedAt, service, policy, machine, firstSampleKey). */
  timerId: string;
  /** Wall ms when the arming sample was received. */
  armedAt: number;
  /** armedAt + policy.periodMs. */
  expiresAt: number;
  /** Breaching samples in the window, the arming one included. */
  samples: number;
  /** Timestamp segment of the arming sample. */
  firstSampleKey: string;
  newestSampleKey: string;
  newestValue: number;
  newestReceivedAt: number;
}

export interface MachineState {
  /** Timestamp segment of the newest sample seen (samples at or before it are ignored). */
  lastSeenKey: string | null;
  /** Its time in ms. */
  lastSeenTs: number | null;
  armed: ArmedTimer | null;
  /** A `suppressed: cooldown` record was already written for the cooldown ending at this time. */
  cooldownNotedUntil: number | null;
}

export const INITIAL_MACHINE_STATE: MachineState = Object.freeze({
  lastSeenKey: null,
  lastSeenTs: null,
  armed: null,
  cooldownNotedUntil: null,
});

export interface Sample {
  /** The key's timestamp segment, as written. */
  tsKey: string;
  /** Its time in ms (producer clock: used for ordering only). */
  ts: number;
  value: number;
  /** Wall ms when the engine saw the sample (engine clock: used for windows and cooldowns). */
  receivedAt: number;
}

export type MachineEvent = { kind: 'sample'; sample: Sample } | { kind: 'timer-expired'; timerId: string };

export interface MachineContext {
  service: string;
  policy: ScalingPolicyConfig;
  direction: 'up' | 'down';
  machine: string;
  /** End of the (service, policy) cooldown, wall ms, or null. */
  cooldownUntil: number | null;
  /**
   * The injected clock (when the step runs). No decision depends on it: samples are timed by `receivedAt` and
   * windows by `expiresAt`, so a retried or late job decides exactly as an on-time one.
   */
  now: number;
}

export type MachineEffect =
  | { kind: 'arm-timer'; timerId: string; at: number }
  | { kind: 'cancel-timer'; timerId: string }
  | {
      kind: 'fire';
      timerId: string;
      armedAt: number;
      /** When the decision is made: the window's expiry (= expiresAt), whenever the job actually ran. */
      at: number;
      direction: 'up' | 'down';
      /** deterministicId(expiresAt, 'fire', service, policy, machine, timerId). */
      decisionId: string;
      inputs: Record<string, unknown>;
    }
  | { kind: 'record'; record: DecisionRecord };

export type FireEffect = Extract<MachineEffect, { kind: 'fire' }>;

/**
 * How far a sample's key time may be ahead of its receipt time. Producers' clocks drift a little; a sample from
 * further ahead (a typo, `9999-12-31`) would move `lastSeenTs` so far that every real sample after it is
 * out of order, blinding the machine for good. It is rejected instead, and never moves the machine's clock.
 */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** Why a sample event changed nothing; the engine counts each reason as a rejected sample. */
export type IgnoredSample = 'out_of_order' | 'future_timestamp' | 'bad_timestamp';

export interface MachineStep {
  state: MachineState;
  effects: MachineEffect[];
  /** Set when a sample changed nothing: not newer than the newest seen, or dated too far ahead of its receipt. */
  ignored?: IgnoredSample;
  /** One line saying why, when `ignored` is set. */
  message?: string;
}

/** Strict comparison, as the original: `gt` breaches above the threshold, `lt` below it. */
export function isBreaching(policy: ScalingPolicyConfig, value: number): boolean {
  return policy.operator === 'gt' ? value > policy.threshold : value < policy.threshold;
}

export function stepMachine(state: MachineState, event: MachineEvent, ctx: MachineContext): MachineStep {
  if (event.kind === 'timer-expired') {
    // A timer job of an older window (disarmed, or already closed by a late sample) is a no-op.
    if (state.armed === null || state.armed.timerId !== event.timerId) return { state, effects: [] };
    const closed = closeWindow(state, state.armed, ctx);
    return { state: closed.state, effects: closed.effects };
  }
  return stepSample(state, event.sample, ctx);
}

function stepSample(state: MachineState, sample: Sample, ctx: MachineContext): MachineStep {
  // Key times come from parseIsoTimestamp (always finite); a pure step still refuses what it cannot order.
  if (!Number.isFinite(sample.ts)) {
    return ignore(state, 'bad_timestamp', `sample ${sample.tsKey} has no usable time`);
  }
  if (sample.ts > sample.receivedAt + FUTURE_TOLERANCE_MS) {
    return ignore(state, 'future_timestamp',
      `sample ${sample.tsKey} is dated more than ${formatDuration(FUTURE_TOLERANCE_MS)} after it was received (${iso(sample.receivedAt)})`);
  }
  if (state.lastSeenTs !== null && sample.ts <= state.lastSeenTs) {
    return ignore(state, 'out_of_order', `sample ${sample.tsKey} is not newer than the newest seen (${state.lastSeenKey})`);
  }
  let next: MachineState = { ...state, lastSeenKey: sample.tsKey, lastSeenTs: sample.ts };
  const effects: MachineEffect[] = [];

  // The timer job may run late; a sample received after the expiry first closes the window exactly as the
  // timer would have, so the outcome never depends on which of the two the engine saw first.
  if (next.armed !== null && sample.receivedAt >= next.armed.expiresAt) {
    const timerId = next.armed.timerId;
    const closed = closeWindow(next, next.armed, ctx);
    next = closed.state;
    effects.push({ kind: 'cancel-timer', timerId }, ...closed.effects);
    // A fire starts a cooldown (once the engine commits it) that this sample falls into: it arms nothing.
    if (closed.fired) return { state: next, effects };
  }

  const breaching = isBreaching(ctx.policy, sample.value);
  const armed = next.armed;

  if (armed !== null) {
    if (breaching) {
      next = {
        ...next,
        armed: {
          ...armed,
          samples: armed.samples + 1,
          newestSampleKey: sample.tsKey,
          newestValue: sample.value,
          newestReceivedAt: sample.receivedAt,
        },
      };
      return { state: next, effects };
    }
    // Any non-breaching sample before expiry ends the window (during a cooldown too).
    next = { ...next, armed: null };
    effects.push(
      { kind: 'cancel-timer', timerId: armed.timerId },
      record(ctx, sample.receivedAt, 'disarmed', null, sample.tsKey, { ...windowInputs(armed, ctx), sampleKey: sample.tsKey, value: sample.value },
        `${ctx.policy.metric} ${sample.value} is not ${side(ctx.policy)} ${ctx.policy.threshold} on ${where(ctx)} ` +
          `(sample ${sample.tsKey}): disarmed after ${plural(armed.samples, 'breaching sample')}`),
    );
    return { state: next, effects };
  }

  if (!breaching) return { state: next, effects };

  if (isCooldownActive(ctx.cooldownUntil, sample.receivedAt)) {
    // One record per cooldown and machine is enough to explain the silence; more would only be noise.
    if (next.cooldownNotedUntil !== ctx.cooldownUntil) {
      next = { ...next, cooldownNotedUntil: ctx.cooldownUntil };
      effects.push(
        record(ctx, sample.receivedAt, 'suppressed', 'cooldown', sample.tsKey,
          { sampleKey: sample.tsKey, value: sample.value, receivedAt: sample.receivedAt, cooldownUntil: ctx.cooldownUntil },
          `${ctx.policy.metric} ${sample.value} is ${side(ctx.policy)} ${ctx.policy.threshold} on ${where(ctx)}, but the cooldown of ` +
            `${ctx.service}/${ctx.policy.name} runs until ${iso(ctx.cooldownUntil!)}: no period is started`),
      );
    }
    return { state: next, effects };
  }

  const armedAt = sample.receivedAt;
  const timer: ArmedTimer = {
    timerId: deterministicId(armedAt, ctx.service, ctx.policy.name, ctx.machine, sample.tsKey),
    armedAt,
    expiresAt: armedAt + ctx.policy.periodMs,
    samples: 1,
    firstSampleKey: sample.tsKey,
    newestSampleKey: sample.tsKey,
    newestValue: sample.value,
    newestReceivedAt: sample.receivedAt,
  };
  next = { ...next, armed: timer };
  effects.push(
    { kind: 'arm-timer', timerId: timer.timerId, at: timer.expiresAt },
    record(ctx, armedAt, 'armed', null, sample.tsKey, windowInputs(timer, ctx),
      `${ctx.policy.metric} ${sample.value} is ${side(ctx.policy)} ${ctx.policy.threshold} on ${where(ctx)} ` +
        `(sample ${sample.tsKey}): armed; fires at ${iso(timer.expiresAt)} if it stays ${side(ctx.policy)} ` +
        `${ctx.policy.threshold} for ${formatDuration(ctx.policy.periodMs)}`),
  );
  return { state: next, effects };
}

function ignore(state: MachineState, reason: IgnoredSample, message: string): MachineStep {
  return { state, effects: [], ignored: reason, message };
}

/**
 * The window of `armed` closes at its expiry: fire, or say why not. Everything is evaluated at `expiresAt`,
 * whenever the job runs. The cooldown too: a window that ended inside a cooldown never fires, even when its job
 * runs after that cooldown is over (checking at `now` would let a late job fire where an on-time one did not).
 * A cooldown committed by another machine after the expiry also suppresses it: only its end is known, and
 * `expiresAt < until` is the conservative reading.
 */
function closeWindow(
  state: MachineState,
  armed: ArmedTimer,
  ctx: MachineContext,
): { state: MachineState; effects: MachineEffect[]; fired: boolean } {
  const at = armed.expiresAt;
  const quietMs = at - armed.newestReceivedAt;
  const enoughSamples = armed.samples >= 2;
  const fresh = quietMs <= ctx.policy.staleAfterMs;
  const cooling = isCooldownActive(ctx.cooldownUntil, at);
  const inputs = windowInputs(armed, ctx);
  const next: MachineState = { ...state, armed: null };

  if (enoughSamples && fresh && !cooling) {
    const decisionId = deterministicId(at, 'fire', ctx.service, ctx.policy.name, ctx.machine, armed.timerId);
    return {
      state: next,
      effects: [{ kind: 'fire', timerId: armed.timerId, armedAt: armed.armedAt, at, direction: ctx.direction, decisionId, inputs }],
      fired: true,
    };
  }

  // Report the most fundamental failure: a window without evidence says more than the cooldown it met.
  const window = `the ${formatDuration(ctx.policy.periodMs)} window of ${ctx.policy.metric} on ${where(ctx)} closed at ${iso(at)}`;
  let reason: SuppressReason;
  let message: string;
  if (!enoughSamples) {
    reason = 'too_few_samples';
    message = `${window} with ${plural(armed.samples, 'breaching sample')} (at least 2 needed): nothing fires`;
  } else if (!fresh) {
    reason = 'stale';
    message =
      `${window}, but its newest sample arrived ${formatDuration(quietMs)} before (stale after ` +
      `${formatDuration(ctx.policy.staleAfterMs)}): nothing fires, silence is not ${ctx.direction === 'up' ? 'load' : 'idleness'}`;
  } else {
    reason = 'cooldown';
    message = `${window} with ${plural(armed.samples, 'breaching sample')}, but the cooldown of ${ctx.service}/${ctx.policy.name} runs until ${iso(ctx.cooldownUntil!)}: nothing fires`;
  }
  const noted: MachineState = reason === 'cooldown' ? { ...next, cooldownNotedUntil: ctx.cooldownUntil } : next;
  return {
    state: noted,
    effects: [record(ctx, at, 'suppressed', reason, armed.timerId, inputs, message)],
    fired: false,
  };
}

function windowInputs(armed: ArmedTimer, ctx: MachineContext): Record<string, unknown> {
  return {
    rule: describeRule(ctx.policy),
    timerId: armed.timerId,
    samples: armed.samples,
    firstSampleKey: armed.firstSampleKey,
    newestSampleKey: armed.newestSampleKey,
    newestValue: armed.newestValue,
    newestReceivedAt: armed.newestReceivedAt,
    armedAt: armed.armedAt,
    expiresAt: armed.expiresAt,
    threshold: ctx.policy.threshold,
    operator: ctx.policy.operator,
    staleAfterMs: ctx.policy.staleAfterMs,
    cooldownUntil: ctx.cooldownUntil,
  };
}

function record(
  ctx: MachineContext,
  at: number,
  outcome: DecisionOutcome,
  reason: SuppressReason | null,
  key: string,
  inputs: Record<string, unknown>,
  message: string,
): { kind: 'record'; record: DecisionRecord } {
  const kind = reason === null ? outcome : `${outcome}:${reason}`;
  return {
    kind: 'record',
    record: {
      id: deterministicId(at, kind, ctx.service, ctx.policy.name, ctx.machine, key),
      at,
      service: ctx.service,
      policy: ctx.policy.name,
      machine: ctx.machine,
      direction: ctx.direction,
      outcome,
      reason,
      rule: describeRule(ctx.policy),
      inputs,
      action: null,
      message,
    },
  };
}

function side(policy: ScalingPolicyConfig): string {
  return policy.operator === 'gt' ? 'above' : 'below';
}

function where(ctx: MachineContext): string {
  return ctx.machine === AGGREGATE_MACHINE ? `the aggregated metric of ${ctx.policy.serviceType}` : `instance ${ctx.machine}`;
}

function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms}` : date.toISOString();
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
