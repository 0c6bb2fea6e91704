import {
  INITIAL_MACHINE_STATE,
  describeRule,
  keys,
  machineSamplePrefix,
  normalizeInstanceName,
  parseSampleKey,
  parseSampleValue,
  stepMachine,
  findPolicy,
  findService,
  policyDirection,
  scaleDownTargetFor,
  decideScaling,
  type DecisionRecord,
  type DynamiteConfig,
  type MachineEffect,
  type MachineRef,
  type MachineState,
  type ScaleRequest,
  AGGREGATE_MACHINE,
} from '@dynamite/domain';
import { readSamplesAfter, type Guard, type StoredMachine, type Write } from '@dynamite/store';
import type { EngineContext } from './context';
import { commitScaleDecision, toRecordedInstances, type ScaleDecisionResult } from './scale-decision';

/** What the scheduler knew when it added a check: it had seen etcd up to `revision` at `receivedAt`. */
export interface ReceiptHint {
  revision: string;
  receivedAt: number;
}

export type MachineEventInput = { kind: 'check'; hint?: ReceiptHint } | { kind: 'timer'; timerId: string };

export interface MachineRunResult {
  outcome: 'skipped' | 'unchanged' | 'committed';
  samples: number;
  rejected: number;
  records: string[];
  decision?: { decisionId: string; outcome: string; instance?: string; reason?: string | null };
}

const MAX_ATTEMPTS = 25;

/**
 * Runs one state machine on one event (new samples, or a timer expiry) and commits the result: the new machine
 * state, its decision records and -- when it fires -- the scale decision, all in one guarded etcd transaction.
 * On a conflict (another worker committed first) it re-reads and runs again. Jobs are added only after the commit,
 * with ids derived from the state, so a crash between the two is repaired by the next reconcile.
 */
export async function runMachine(ctx: EngineContext, ref: MachineRef, event: MachineEventInput): Promise<MachineRunResult> {
  const config = await ctx.config.current();
  const service = findService(config, ref.service);
  const policy = findPolicy(config, ref.policy);
  const direction = policyDirection(config, ref.service, ref.policy);
  if (!service || !policy || direction === null) {
    ctx.log.warn({ ...ref }, 'state machine no longer in the config; job skipped');
    return { outcome: 'skipped', samples: 0, rejected: 0, records: [] };
  }

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
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

    // New samples first, for checks and timers alike: a timer must not close a window on samples it has not read.
    const prefix = machineSamplePrefix(config, policy, ref.machine);
    const read = await readSamplesAfter(ctx.store.etcd, prefix, cursor);
    const raw = read.samples;
    if (read.lastRevision !== null && (cursor === null || BigInt(read.lastRevision) > BigInt(cursor))) cursor = read.lastRevision;
    const hint = event.kind === 'check' ? event.hint ?? null : raw.length > 0 ? await ctx.jobs.pendingCheckHint(ref) : null;
    let parsed = raw
      .map((sample) => ({ sample, key: parseSampleKey(sample.key, config.etcd.metricsBasePath) }))
      .filter((p): p is { sample: typeof p.sample; key: Extract<typeof p.key, { ok: true }> } => {
        if (!p.key.ok) { rejected += 1; ctx.metrics.samplesRejected.inc({ reason: p.key.reason }); }
        return p.key.ok;
      })
      .sort((a, b) => a.key.sample.ts - b.key.sample.ts);
    // A machine seen for the first time starts from its newest sample: older ones predate the engine.
    if (stored.cursor === null && parsed.length > 1) parsed = parsed.slice(-1);
    let cooldownUntil = stepCtx.cooldownUntil;
    const receipts = new Map<string, number | null>();
    const times = await ctx.jobs.receiptsOf(parsed.map((p) => p.sample.modRevision));
    parsed.forEach((p, i) => receipts.set(p.sample.modRevision, times[i] ?? null));
    for (const { sample, key } of parsed) {
      const value = parseSampleValue(sample.value, policy);
      if (!value.ok) { rejected += 1; ctx.metrics.samplesRejected.inc({ reason: value.reason }); continue; }
      // When the scheduler received this sample: its own receipt if noted, else no later than the check's hint (the
      // scheduler had seen that revision at that time), else now.
      const receipt = receipts.get(sample.modRevision) ?? null;
      const fromHint = hint !== null && BigInt(sample.modRevision) <= BigInt(hint.revision) ? hint.receivedAt : now;
      const receivedAt = Math.min(now, receipt ?? fromHint);
      const step = stepMachine(state, { kind: 'sample', sample: { tsKey: key.sample.tsKey, ts: key.sample.ts, value: value.value, receivedAt } }, { ...stepCtx, cooldownUntil });
      if (step.ignored) { rejected += 1; ctx.metrics.samplesRejected.inc({ reason: step.ignored }); continue; }
      samples += 1;
      ctx.metrics.samplesIngested.inc({ policy: ref.policy });
      state = step.state;
      effects.push(...step.effects);
      // A fire that decides an action starts a cooldown: the rest of this batch must not arm a new window inside it.
      // (A suppressed one starts none: predict the decision, which commitScaleDecision makes again under its guard.)
      const fire = step.effects.find((e): e is Extract<MachineEffect, { kind: 'fire' }> => e.kind === 'fire');
      if (fire && (await fireWouldAct(ctx, config, ref, fire.direction))) cooldownUntil = Math.max(cooldownUntil ?? 0, now + policy.cooldownMs);
    }
    if (event.kind === 'timer') {
      const step = stepMachine(state, { kind: 'timer-expired', timerId: event.timerId }, { ...stepCtx, cooldownUntil });
      state = step.state;
      effects.push(...step.effects);
    }
    if (cursor === stored.cursor && effects.length === 0 && JSON.stringify(state) === JSON.stringify(stored.state)) {
      ctx.log.debug({ ...ref, event: event.kind, read: raw.length, rejected }, 'nothing new');
      return { outcome: 'unchanged', samples, rejected, records: [] };
    }

    const records = effects.filter((e): e is Extract<MachineEffect, { kind: 'record' }> => e.kind === 'record').map((e) => e.record);
    const guards: Guard[] = [
      { key: keys.machine(ref.service, ref.policy, ref.machine), modRevision: machineV.modRevision },
      { key: keys.cooldown(ref.service, ref.policy), modRevision: cooldownV.modRevision },
    ];
    const writes: Write[] = [
      { put: keys.machine(ref.service, ref.policy, ref.machine), value: JSON.stringify({ state, cursor, updatedAt: now } satisfies StoredMachine) },
      ...records.map((r) => ({ put: keys.decision(ref.service, r.id), value: JSON.stringify(r) })),
    ];

    const fire = effects.find((e): e is Extract<MachineEffect, { kind: 'fire' }> => e.kind === 'fire');
    let fired: ScaleDecisionResult | null = null;
    if (fire) {
      const request = await scaleRequestFor(ctx, config, ref, fire.direction);
      fired = await commitScaleDecision(ctx.store, config, {
        service: ref.service,
        request,
        decisionId: fire.decisionId,
        policy: ref.policy,
        machine: ref.machine,
        reason: ref.policy,
        rule: describeRule(policy),
        inputs: fire.inputs,
        dueAt: fire.armedAt + policy.periodMs,
        cooldown: { policy: ref.policy, ms: policy.cooldownMs },
        guards,
        writes,
        now,
      });
      if (!fired.committed) continue;
    } else if (!(await ctx.store.commit(guards, writes))) {
      continue;
    }

    await afterCommit(ctx, ref, effects, records, fired, now, policy.cooldownMs);
    const result: MachineRunResult = { outcome: 'committed', samples, rejected, records: records.map((r) => r.outcome) };
    if (fired?.committed) {
      result.decision = {
        decisionId: fired.record.id,
        outcome: fired.record.outcome,
        instance: fired.action?.instance,
        reason: fired.record.reason,
      };
    }
    return result;
  }
  throw new Error(`state machine ${ref.service}/${ref.policy}/${ref.machine}: gave up after ${MAX_ATTEMPTS} conflicting commits`);
}

/** Whether a fire would decide an action (not be suppressed) against the service's current records. */
async function fireWouldAct(ctx: EngineContext, config: DynamiteConfig, ref: MachineRef, direction: 'up' | 'down'): Promise<boolean> {
  const records = await ctx.store.readService(ref.service);
  const request = await scaleRequestFor(ctx, config, ref, direction);
  return decideScaling(config, ref.service, toRecordedInstances(records.instances), request).outcome === 'action';
}

/** Which instance a fired policy acts on (scale down removes the instance whose metric triggered). */
async function scaleRequestFor(ctx: EngineContext, config: DynamiteConfig, ref: MachineRef, direction: 'up' | 'down'): Promise<ScaleRequest> {
  if (direction === 'up') return { direction: 'up' };
  if (ref.machine === AGGREGATE_MACHINE) return { direction: 'down', target: scaleDownTargetFor(ref.machine, null) };
  const policy = findPolicy(config, ref.policy)!;
  const registered = await resolveRegistration(ctx, config.etcd.applicationBasePath, policy.serviceType, ref.machine);
  // decideScaling refuses a registered instance that is not a live instance of this service.
  return { direction: 'down', target: scaleDownTargetFor(ref.machine, registered) };
}

/** `<application_base_path>/<type>/<uuid>/service_instance_name`, looked up under the policy's type first. */
export async function resolveRegistration(ctx: EngineContext, base: string, serviceType: string, uuid: string): Promise<string | null> {
  const direct = await ctx.store.getString(`${base}/${serviceType}/${uuid}/service_instance_name`);
  if (direct !== null) return normalizeInstanceName(direct);
  const all = await ctx.store.etcd.getAll().prefix(`${base}/`).keys();
  const match = all.find((k) => k.endsWith(`/${uuid}/service_instance_name`) && k.split('/').length === base.split('/').length + 3);
  if (!match) return null;
  const value = await ctx.store.getString(match);
  return value === null ? null : normalizeInstanceName(value);
}

async function afterCommit(
  ctx: EngineContext,
  ref: MachineRef,
  effects: MachineEffect[],
  records: DecisionRecord[],
  fired: ScaleDecisionResult | null,
  now: number,
  cooldownMs: number,
): Promise<void> {
  // The action first: it is what the expiry-to-action latency is about.
  if (fired?.committed && fired.action && fired.action.status === 'pending') await ctx.jobs.addAction(fired.action);
  for (const record of records) {
    ctx.metrics.decisions.inc({ service: record.service, outcome: record.outcome, reason: record.reason ?? '' });
    ctx.log.info({ decisionId: record.id, ...ref, outcome: record.outcome, reason: record.reason }, record.message);
  }
  for (const effect of effects) {
    if (effect.kind === 'arm-timer') await ctx.jobs.addTimer(ref, effect.timerId, effect.at, now);
    if (effect.kind === 'cancel-timer') await ctx.jobs.cancelTimer(ref, effect.timerId);
  }
  if (fired?.committed) {
    const r = fired.record;
    ctx.metrics.decisions.inc({ service: r.service, outcome: r.outcome, reason: r.reason ?? '' });
    ctx.log.info({ decisionId: r.id, ...ref, outcome: r.outcome, reason: r.reason, action: r.action }, r.message);
    if (fired.action && fired.action.status === 'pending' && !fired.alreadyDecided) {
      // commitScaleDecision started this cooldown at `now` in the same transaction.
      await ctx.jobs.addCooldownEnd({ service: ref.service, policy: ref.policy, until: now + cooldownMs, decisionId: fired.action.decisionId }, now);
    }
  }
}
