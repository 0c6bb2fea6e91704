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
import {
  CONFLICT,
  commitPolicyStep,
  commitQuietPolicySteps,
  readSamplesAfter,
  readSamplesAfterEach,
  retryOnConflict,
  type QuietPolicyStep,
  type RawSample,
  type SamplesRead,
  type ScaleCommit,
  type StoredMachine,
} from '@dynamite/store';
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
  /** The decisions made for fires (one per step; several when the samples read close several windows). */
  decisions: { decisionId: string; outcome: string; instance?: string; reason?: string | null }[];
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
    return { outcome: 'skipped', samples: 0, rejected: 0, records: [], decisions: [] };
  }
  // A step ends at its first fire (one decision per step); the samples after it are the next step's.
  let total = await runPolicyStep(ctx, config, ref, policy, direction, event);
  while (total.more) {
    const next = await runPolicyStep(ctx, config, ref, policy, direction, { kind: 'check', hint: event.kind === 'check' ? event.hint : undefined });
    total = {
      outcome: next.outcome === 'committed' ? 'committed' : total.outcome,
      samples: total.samples + next.samples,
      rejected: total.rejected + next.rejected,
      records: [...total.records, ...next.records],
      decisions: [...total.decisions, ...next.decisions],
      more: next.more,
    };
  }
  const { more: _more, ...result } = total;
  return result;
}

/** One step of a machine: read, run, commit (again on a conflict). `more`: it stopped at a fire with samples left. */
async function runPolicyStep(
  ctx: EngineContext,
  config: DynamiteConfig,
  ref: MachineRef,
  policy: ScalingPolicyConfig,
  direction: 'up' | 'down',
  event: PolicyCheckEvent,
): Promise<PolicyCheckResult & { more: boolean }> {
  return retryOnConflict(`state machine ${ref.service}/${ref.policy}/${ref.machine}`, async () => {
    // The machine and its cooldown in one transaction (one round trip).
    const read0 = await ctx.store.readMachinesAndCooldowns([ref]);
    const machineV = read0.machines[0]!;
    const cooldownV = read0.cooldown(ref.service, ref.policy);
    const stored = storedOrInitial(machineV.value);
    const now = ctx.clock.now();
    const stepCtx = { service: ref.service, policy, direction, machine: ref.machine, cooldownUntil: cooldownV.value?.until ?? null, now };

    // New samples first, for checks and timers alike: a timer must not close a window on samples it has not read.
    const read = await readSamplesAfter(ctx.store.etcd, machineSamplePrefix(config, policy, ref.machine), stored.cursor);
    const parsed = newSamplesOf(config, stored, read, now);
    const hint = event.kind === 'check' ? event.hint ?? null : null;
    const times = await ctx.jobs.receiptsOf(parsed.map((p) => p.sample.modRevision));
    const step = stepMachineOn(config, ref, stepCtx, stored, { read, parsed, times, hint }, event.kind === 'timer' ? event.timerId : null);
    if (step.unchanged) {
      ctx.log.debug({ ...ref, event: event.kind, read: read.samples.length, rejected: step.rejected }, 'nothing new');
      countStep(ctx, ref, step);
      return { outcome: 'unchanged', samples: step.samples, rejected: step.rejected, records: [], decisions: [], more: false };
    }

    const records = recordsOf(step.effects);
    const decided: DecidedFire | null = step.fire ? { fire: step.fire, decided: await decideFire(ctx, config, ref, policy, step.fire) } : null;
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
    const commit = {
      service: ref.service, policy: ref.policy, machine: ref.machine,
      machineRevision: machineV.modRevision, cooldownRevision: cooldownV.modRevision,
      next: { state: step.state, cursor: step.cursor, updatedAt: now },
    };
    const firedCommit = decided ? { templateRevision: decided.decided.records.template.modRevision, scale } : null;
    if (!(await commitPolicyStep(ctx.store, { ...commit, records: fireRecord ? [...records, fireRecord] : records, fired: firedCommit }))) {
      // Decided before (a retried job whose commit went through): keep that decision, never add a second action.
      const earlier = scale?.actions.length ? (await Promise.all(scale.actions.map(async (a) => (await ctx.store.readAction(ref.service, a.decisionId)).value))).filter((a) => a !== null) : [];
      if (earlier.length === 0 || !(await commitPolicyStep(ctx.store, { ...commit, records, fired: null }))) return CONFLICT;
      for (const action of earlier) await ctx.jobs.addAction(action);
      scale = null;
      fireRecord = null;
    }

    countStep(ctx, ref, step);
    await afterCommit(ctx, ref, step.effects, records, fireRecord, scale);
    const decisions = fireRecord ? [{ decisionId: fireRecord.id, outcome: fireRecord.outcome, instance: fireRecord.action?.instance, reason: fireRecord.reason }] : [];
    return { outcome: 'committed', samples: step.samples, rejected: step.rejected, records: records.map((r) => r.outcome), decisions, more: step.more };
  });
}

export interface PolicyCheckBatchResult {
  /** Machines whose step was committed in the batch's shared transactions. */
  batched: number;
  /** Machines checked on their own: they fired (a decision reads the service) or lost a race in the batch. */
  alone: number;
  skipped: number;
  unchanged: number;
  samples: number;
  /** The decisions made by the machines checked alone (shown with the job in the board). */
  decisions: (PolicyCheckResult['decisions'][number] & MachineRef)[];
}

/**
 * Checks many state machines at once, for the new samples of a watch batch: their states, cooldowns and samples
 * are read in a few transactions and the steps that decide nothing -- nearly all of them -- are committed together,
 * each guarded as in runPolicyCheck. A machine that fires, or whose transaction lost a race, is checked on its own
 * by runPolicyCheck (the step is deterministic: it sees the same samples and fires the same way).
 */
export async function runPolicyCheckBatch(ctx: EngineContext, refs: MachineRef[], hint: ReceiptHint): Promise<PolicyCheckBatchResult> {
  const config = await ctx.config.current();
  const result: PolicyCheckBatchResult = { batched: 0, alone: 0, skipped: 0, unchanged: 0, samples: 0, decisions: [] };
  const live = refs.flatMap((ref) => {
    const policy = findPolicy(config, ref.policy);
    const direction = policyDirection(config, ref.service, ref.policy);
    if (findService(config, ref.service) && policy && direction !== null) return [{ ref, policy, direction }];
    ctx.log.warn({ ...ref }, 'state machine no longer in the config; check skipped');
    result.skipped += 1;
    return [];
  });
  if (live.length === 0) return result;

  const { machines, cooldown } = await ctx.store.readMachinesAndCooldowns(live.map((m) => m.ref));
  const stored = machines.map((m) => storedOrInitial(m.value));
  const reads = await readSamplesAfterEach(ctx.store.etcd, live.map((m, i) => ({ prefix: machineSamplePrefix(config, m.policy, m.ref.machine), afterRevision: stored[i]!.cursor })));
  const now = ctx.clock.now();
  const parsed = live.map((_, i) => newSamplesOf(config, stored[i]!, reads[i]!, now));
  const allTimes = await ctx.jobs.receiptsOf(parsed.flatMap((list) => list.map((p) => p.sample.modRevision)));

  const alone: MachineRef[] = [];
  const quiet: { i: number; step: MachineStep; commit: QuietPolicyStep }[] = [];
  let offset = 0;
  for (const [i, { ref, policy, direction }] of live.entries()) {
    const times = allTimes.slice(offset, offset + parsed[i]!.length);
    offset += parsed[i]!.length;
    const cooldownV = cooldown(ref.service, ref.policy);
    const stepCtx = { service: ref.service, policy, direction, machine: ref.machine, cooldownUntil: cooldownV.value?.until ?? null, now };
    const step = stepMachineOn(config, ref, stepCtx, stored[i]!, { read: reads[i]!, parsed: parsed[i]!, times, hint }, null);
    if (step.fire) { alone.push(ref); continue; }
    if (step.unchanged) { countStep(ctx, ref, step); result.unchanged += 1; continue; }
    quiet.push({ i, step, commit: {
      service: ref.service, policy: ref.policy, machine: ref.machine,
      machineRevision: machines[i]!.modRevision, cooldownRevision: cooldownV.modRevision,
      next: { state: step.state, cursor: step.cursor, updatedAt: now },
      records: recordsOf(step.effects),
    } });
  }

  const committed = await commitQuietPolicySteps(ctx.store, quiet.map((q) => q.commit));
  await Promise.all(quiet.map(async (q, n) => {
    const ref = live[q.i]!.ref;
    if (!committed[n]) { alone.push(ref); return; }
    result.batched += 1;
    result.samples += q.step.samples;
    countStep(ctx, ref, q.step);
    await afterCommit(ctx, ref, q.step.effects, q.commit.records, null, null);
  }));
  const results = await Promise.all(alone.map((ref) => runPolicyCheck(ctx, ref, { kind: 'check', hint })));
  result.alone = alone.length;
  result.samples += results.reduce((sum, r) => sum + r.samples, 0);
  results.forEach((r, i) => { for (const d of r.decisions) result.decisions.push({ ...alone[i]!, ...d }); });
  return result;
}

type ParsedSample = { sample: RawSample; key: Extract<ReturnType<typeof parseSampleKey>, { ok: true }> };

/** What a stored machine starts from (none stored: the initial state, no cursor). */
function storedOrInitial(value: StoredMachine | null): StoredMachine {
  const stored: StoredMachine = value ?? { state: INITIAL_MACHINE_STATE, cursor: null, updatedAt: 0 };
  // A cursor that is not a revision (written by an older version, which kept a key segment) starts over.
  if (stored.cursor !== null && !/^\d+$/.test(stored.cursor)) return { ...stored, cursor: null };
  return stored;
}

/**
 * The samples a machine reads, parsed, oldest first. A key that is not a sample was counted by the scheduler, which
 * routes every put by its key. A machine seen for the first time starts from its newest sample: older ones predate
 * the engine. A sample dated beyond the future tolerance cannot be that newest one: it is kept to be rejected and counted.
 */
function newSamplesOf(config: DynamiteConfig, stored: StoredMachine, read: SamplesRead, now: number): ParsedSample[] {
  // In the order they were written (read.samples is): "newer than the newest seen" then means the same whether the
  // engine reads them one by one or many at once, and a step that stops at a fire can leave the rest after a cursor.
  const parsed = read.samples
    .map((sample) => ({ sample, key: parseSampleKey(sample.key, config.etcd.metricsBasePath) }))
    .filter((p): p is ParsedSample => p.key.ok);
  if (stored.cursor === null && parsed.length > 1) {
    const future = (p: ParsedSample) => p.key.sample.ts > now + FUTURE_TOLERANCE_MS;
    const newest = parsed.filter((p) => !future(p)).sort((a, b) => a.key.sample.ts - b.key.sample.ts).slice(-1);
    return parsed.filter((p) => newest.includes(p) || future(p));
  }
  return parsed;
}

/** A machine's step over its new samples (and an expired timer), before it is committed. */
interface MachineStep {
  state: MachineState;
  cursor: string | null;
  effects: MachineEffect[];
  samples: number;
  rejected: number;
  /** Samples this machine skips and counts, once the step is committed (a retried attempt counts nothing twice). */
  skipped: { reason: string; key: string; message: string }[];
  /** Nothing to commit: the same state, cursor and no effect. */
  unchanged: boolean;
  /** The fire the step ended at, if it fired: its decision is the caller's to make. */
  fire: FireEffect | null;
  /** The step stopped at a fire with samples left after it (past `cursor`): the next step reads them. */
  more: boolean;
}

type StepContext = Parameters<typeof stepMachine>[2];

/**
 * Runs the machine over its new samples, then over an expired timer, up to the first fire: one step makes at most one
 * decision, made on the service as it is (a second fire decided on the same reads could not see the first's action).
 */
function stepMachineOn(
  config: DynamiteConfig,
  ref: MachineRef,
  stepCtx: StepContext,
  stored: StoredMachine,
  input: { read: SamplesRead; parsed: ParsedSample[]; times: (number | null)[]; hint: ReceiptHint | null },
  timerId: string | null,
): MachineStep {
  const { policy, now } = stepCtx;
  let cursor = stored.cursor;
  if (input.read.lastRevision !== null && (cursor === null || BigInt(input.read.lastRevision) > BigInt(cursor))) cursor = input.read.lastRevision;
  const out: MachineStep = { state: stored.state, cursor, effects: [], samples: 0, rejected: 0, skipped: [], unchanged: false, fire: null, more: false };
  /** Applies a step's effects; true when one of them fired (the step ends there). */
  const apply = (effects: MachineEffect[]) => {
    out.effects.push(...effects);
    out.fire = effects.find(isFire) ?? null;
    return out.fire !== null;
  };
  const { hint } = input;
  for (const [i, { sample, key }] of input.parsed.entries()) {
    const value = parseSampleValue(sample.value, policy);
    if (!value.ok) {
      out.rejected += 1;
      if (countsRejection(config, key.sample, ref, (p) => !parseSampleValue(sample.value, p).ok)) out.skipped.push({ reason: value.reason, key: sample.key, message: value.message });
      continue;
    }
    // When the scheduler received this sample: its own receipt if noted, else no later than the check's hint (the
    // scheduler had seen that revision at that time), else now.
    const fromHint = hint !== null && BigInt(sample.modRevision) <= BigInt(hint.revision) ? hint.receivedAt : now;
    const receivedAt = Math.min(now, input.times[i] ?? fromHint);
    const step = stepMachine(out.state, { kind: 'sample', sample: { tsKey: key.sample.tsKey, ts: key.sample.ts, value: value.value, receivedAt } }, stepCtx);
    if (step.ignored) {
      out.rejected += 1;
      if (countsRejection(config, key.sample, ref, () => true)) out.skipped.push({ reason: step.ignored, key: sample.key, message: step.message ?? `sample ${key.sample.tsKey} was not evaluated` });
      continue;
    }
    out.samples += 1;
    out.state = step.state;
    if (apply(step.effects)) {
      // Samples are in write order: every one after this is past its revision, for the next step to read.
      if (i < input.parsed.length - 1) {
        out.cursor = sample.modRevision;
        out.more = true;
      }
      break;
    }
  }
  // After a fire the timer is a no-op: a fire closes the window that was armed.
  if (timerId !== null && out.fire === null) {
    const step = stepMachine(out.state, { kind: 'timer-expired', timerId }, stepCtx);
    out.state = step.state;
    apply(step.effects);
  }
  out.unchanged = out.cursor === stored.cursor && out.effects.length === 0 && JSON.stringify(out.state) === JSON.stringify(stored.state);
  return out;
}

function recordsOf(effects: MachineEffect[]): DecisionRecord[] {
  return effects.filter((e): e is Extract<MachineEffect, { kind: 'record' }> => e.kind === 'record').map((e) => e.record);
}

/** Counts what a committed (or unchanged) step evaluated and skipped: once, whatever attempts it took. */
function countStep(ctx: EngineContext, ref: MachineRef, step: MachineStep): void {
  if (step.samples > 0) ctx.metrics.samplesIngested.inc({ policy: ref.policy }, step.samples);
  for (const r of step.skipped) ctx.rejections.reject(r.reason, r.key, r.message);
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
  await ctx.notifier.records(fireRecord ? [...records, fireRecord] : records);
}
