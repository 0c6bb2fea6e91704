import {
  FUTURE_TOLERANCE_MS,
  INITIAL_MACHINE_STATE,
  cooldownEndAfter,
  findPolicy,
  findService,
  fireDecisionRecord,
  machineSamplePrefix,
  parseSampleKey,
  parseSampleValue,
  policyDirection,
  routeSample,
  stepMachine,
  type DecisionRecord,
  type DynamiteConfig,
  type FireEffect,
  type MachineEffect,
  type MachineRef,
  type MachineState,
  type SampleKey,
  type ScalingPolicyConfig,
} from '@dynamite/domain';
import { CONFLICT, commitPolicyStep, readSamplesAfter, retryOnConflict, type ScaleCommit, type StoredMachine } from '@dynamite/store';
import type { EngineContext } from '../runtime/context';
import { decideFire, scaleCommitFor, type ServiceDecision } from './scale-decision';

/** What the scheduler knew when it added a check: it had seen etcd up to `revision` at `receivedAt`. */
export interface ReceiptHint {
  revision: string;
  receivedAt: number;
}

export type PolicyCheckEvent = { kind: 'check'; hint?: ReceiptHint } | { kind: 'timer'; timerId: string };

export interface PolicyCheckResult {
  outcome: 'skipped' | 'unchanged' | 'committed';
  samples: number;
  rejected: number;
  records: string[];
  decision?: { decisionId: string; outcome: string; instance?: string; reason?: string | null };
}

/** A fire and the one decision made for it. */
interface DecidedFire {
  fire: FireEffect;
  decided: ServiceDecision;
}

const isFire = (e: MachineEffect): e is FireEffect => e.kind === 'fire';

/**
 * Runs one policy state machine on one event (new samples, or a period expiry) and commits the result in one
 * named transaction (commitPolicyStep): the machine's state and cursor, its decision records and -- when it fires --
 * the scale decision made for that fire. On a conflict (another worker committed first) it reads and runs again.
 * Jobs are added only after the commit, with ids derived from the state, so a crash between the two is repaired by
 * the next reconcile.
 */
export async function runPolicyCheck(ctx: EngineContext, ref: MachineRef, event: PolicyCheckEvent): Promise<PolicyCheckResult> {
  const config = await ctx.config.current();
  const policy = findPolicy(config, ref.policy);
  const direction = policyDirection(config, ref.service, ref.policy);
  if (!findService(config, ref.service) || !policy || direction === null) {
    ctx.log.warn({ ...ref }, 'state machine no longer in the config; job skipped');
    return { outcome: 'skipped', samples: 0, rejected: 0, records: [] };
  }

  return retryOnConflict(`state machine ${ref.service}/${ref.policy}/${ref.machine}`, async () => {
    const [machineV, cooldownV] = await Promise.all([
      ctx.store.readMachine(ref.service, ref.policy, ref.machine),
      ctx.store.readCooldown(ref.service, ref.policy),
    ]);
    const stored: StoredMachine = machineV.value ?? { state: INITIAL_MACHINE_STATE, cursor: null, updatedAt: 0 };
    // A cursor that is not a revision (written by an older version, which kept a key segment) starts over.
    if (stored.cursor !== null && !/^\d+$/.test(stored.cursor)) stored.cursor = null;
    const now = ctx.clock.now();
    const stepCtx = { service: ref.service, policy, direction, machine: ref.machine, cooldownUntil: cooldownV.value?.until ?? null, now };

    let state: MachineState = stored.state;
    let cursor = stored.cursor;
    const effects: MachineEffect[] = [];
    let samples = 0;
    let rejected = 0;
    let fired: DecidedFire | null = null;
    let cooldownUntil = stepCtx.cooldownUntil;
    /** Samples this machine skips and counts, once the step is committed (a retried attempt counts nothing twice). */
    const skipped: { reason: string; key: string; message: string }[] = [];
    const countSkipped = () => { for (const r of skipped) ctx.rejections.reject(r.reason, r.key, r.message); };

    /** Decides a fire once; a fire that decides an action starts its cooldown for the rest of this batch. */
    const onFire = async (fire: FireEffect): Promise<void> => {
      const decided = await decideFire(ctx, config, ref, policy, fire);
      fired ??= { fire, decided };
      if (decided.decision.outcome === 'action') cooldownUntil = Math.max(cooldownUntil ?? 0, cooldownEndAfter(policy, fire.at));
    };

    // New samples first, for checks and timers alike: a timer must not close a window on samples it has not read.
    const read = await readSamplesAfter(ctx.store.etcd, machineSamplePrefix(config, policy, ref.machine), cursor);
    if (read.lastRevision !== null && (cursor === null || BigInt(read.lastRevision) > BigInt(cursor))) cursor = read.lastRevision;
    const hint = event.kind === 'check' ? event.hint ?? null : read.samples.length > 0 ? await ctx.jobs.pendingCheckHint(ref) : null;
    // A key that is not a sample was counted by the scheduler, which routes every put by its key.
    let parsed = read.samples
      .map((sample) => ({ sample, key: parseSampleKey(sample.key, config.etcd.metricsBasePath) }))
      .filter((p): p is { sample: typeof p.sample; key: Extract<typeof p.key, { ok: true }> } => p.key.ok)
      .sort((a, b) => a.key.sample.ts - b.key.sample.ts);
    // A machine seen for the first time starts from its newest sample: older ones predate the engine.
    // A sample dated beyond the future tolerance cannot be that newest one: it is kept to be rejected and counted.
    if (stored.cursor === null && parsed.length > 1) {
      const future = (p: (typeof parsed)[number]) => p.key.sample.ts > now + FUTURE_TOLERANCE_MS;
      parsed = [...parsed.filter((p) => !future(p)).slice(-1), ...parsed.filter(future)];
    }
    const times = await ctx.jobs.receiptsOf(parsed.map((p) => p.sample.modRevision));
    for (const [i, { sample, key }] of parsed.entries()) {
      const value = parseSampleValue(sample.value, policy);
      if (!value.ok) {
        rejected += 1;
        if (countsRejection(config, key.sample, ref, (p) => !parseSampleValue(sample.value, p).ok)) skipped.push({ reason: value.reason, key: sample.key, message: value.message });
        continue;
      }
      // When the scheduler received this sample: its own receipt if noted, else no later than the check's hint (the
      // scheduler had seen that revision at that time), else now.
      const fromHint = hint !== null && BigInt(sample.modRevision) <= BigInt(hint.revision) ? hint.receivedAt : now;
      const receivedAt = Math.min(now, times[i] ?? fromHint);
      const step = stepMachine(state, { kind: 'sample', sample: { tsKey: key.sample.tsKey, ts: key.sample.ts, value: value.value, receivedAt } }, { ...stepCtx, cooldownUntil });
      if (step.ignored) {
        rejected += 1;
        if (countsRejection(config, key.sample, ref, () => true)) skipped.push({ reason: step.ignored, key: sample.key, message: step.message ?? `sample ${key.sample.tsKey} was not evaluated` });
        continue;
      }
      samples += 1;
      ctx.metrics.samplesIngested.inc({ policy: ref.policy });
      state = step.state;
      effects.push(...step.effects);
      for (const fire of step.effects.filter(isFire)) await onFire(fire);
    }
    if (event.kind === 'timer') {
      const step = stepMachine(state, { kind: 'timer-expired', timerId: event.timerId }, { ...stepCtx, cooldownUntil });
      state = step.state;
      effects.push(...step.effects);
      for (const fire of step.effects.filter(isFire)) await onFire(fire);
    }
    if (cursor === stored.cursor && effects.length === 0 && JSON.stringify(state) === JSON.stringify(stored.state)) {
      ctx.log.debug({ ...ref, event: event.kind, read: read.samples.length, rejected }, 'nothing new');
      countSkipped();
      return { outcome: 'unchanged', samples, rejected, records: [] } satisfies PolicyCheckResult;
    }

    const records = effects.filter((e): e is Extract<MachineEffect, { kind: 'record' }> => e.kind === 'record').map((e) => e.record);
    const decided = fired as DecidedFire | null;
    let fireRecord: DecisionRecord | null = null;
    let scale: ScaleCommit | null = null;
    if (decided) {
      if (!decided.decided.records.template.value) throw new Error(`service ${ref.service} has no template in etcd; is the scheduler running?`);
      fireRecord = fireDecisionRecord({ service: ref.service, policy, machine: ref.machine, step: decided.decided.step }, decided.fire, decided.decided.decision, decided.decided.before);
      scale = scaleCommitFor(config, decided.decided, {
        decisionId: decided.fire.decisionId,
        reason: ref.policy,
        now,
        dueAt: decided.fire.at,
        cooldown: { policy: ref.policy, until: cooldownEndAfter(policy, decided.fire.at), startedAt: decided.fire.at },
      });
    }
    const step = {
      service: ref.service, policy: ref.policy, machine: ref.machine,
      machineRevision: machineV.modRevision, cooldownRevision: cooldownV.modRevision,
      next: { state, cursor, updatedAt: now },
    };
    const firedCommit = decided ? { templateRevision: decided.decided.records.template.modRevision, scale } : null;
    if (!(await commitPolicyStep(ctx.store, { ...step, records: fireRecord ? [...records, fireRecord] : records, fired: firedCommit }))) {
      // Decided before (a retried job whose commit went through): keep that decision, never add a second action.
      const earlier = scale?.actions.length ? (await Promise.all(scale.actions.map(async (a) => (await ctx.store.readAction(ref.service, a.decisionId)).value))).filter((a) => a !== null) : [];
      if (earlier.length === 0 || !(await commitPolicyStep(ctx.store, { ...step, records, fired: null }))) return CONFLICT;
      for (const action of earlier) await ctx.jobs.addAction(action);
      scale = null;
      fireRecord = null;
    }

    countSkipped();
    await afterCommit(ctx, ref, effects, records, fireRecord, scale);
    const result: PolicyCheckResult = { outcome: 'committed', samples, rejected, records: records.map((r) => r.outcome) };
    if (fireRecord) result.decision = { decisionId: fireRecord.id, outcome: fireRecord.outcome, instance: fireRecord.action?.instance, reason: fireRecord.reason };
    return result;
  });
}

/**
 * Whether this machine counts a sample it skips. Several machines read the same sample (a service's up and down
 * policies, other services of the same type); it is counted once, by the first of them (in routing order) that
 * skips it for the same kind of problem.
 */
function countsRejection(config: DynamiteConfig, sample: SampleKey, ref: MachineRef, skipsIt: (policy: ScalingPolicyConfig) => boolean): boolean {
  const owner = routeSample(sample, config).find((route) => {
    const policy = findPolicy(config, route.policy);
    return policy !== undefined && skipsIt(policy);
  });
  return owner !== undefined && owner.service === ref.service && owner.policy === ref.policy;
}

async function afterCommit(
  ctx: EngineContext,
  ref: MachineRef,
  effects: MachineEffect[],
  records: DecisionRecord[],
  fireRecord: DecisionRecord | null,
  scale: ScaleCommit | null,
): Promise<void> {
  const now = ctx.clock.now();
  // The action first: it is what the expiry-to-action latency is about.
  for (const action of scale?.actions ?? []) await ctx.jobs.addAction(action);
  for (const record of fireRecord ? [...records, fireRecord] : records) {
    ctx.metrics.decisions.inc({ service: record.service, outcome: record.outcome, reason: record.reason ?? '' });
    ctx.log.info({ decisionId: record.id, ...ref, outcome: record.outcome, reason: record.reason, action: record.action }, record.message);
  }
  for (const effect of effects) {
    if (effect.kind === 'arm-timer') await ctx.jobs.addTimer(ref, effect.timerId, effect.at, now);
    if (effect.kind === 'cancel-timer') await ctx.jobs.cancelTimer(ref, effect.timerId);
  }
  if (scale?.cooldown) {
    await ctx.jobs.addCooldownEnd({ service: ref.service, policy: ref.policy, until: scale.cooldown.record.until, decisionId: scale.cooldown.record.decisionId }, now);
  }
}
