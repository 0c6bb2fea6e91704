import { keys, deterministicId, launchRefusal, type ActionJobData, type DecisionRecord, type DynamiteConfig } from '@dynamite/domain';
import { CONFLICT, commitActionResult, retryOnConflict, type ActionRecord, type InstanceRecord, type ServiceRecords, type TemplateRecord } from '@dynamite/store';
import type { EngineContext } from '../runtime/context';
import { templateAfter } from './scale-decision';

type UnitOptions = TemplateRecord['unit_file_details_json_dict']['options'];

export interface FleetActionResult {
  decisionId: string;
  kind: 'scale_up' | 'scale_down';
  instance: string;
  attached: string[];
  /** `refused`: the job or the records it is about are not ones the engine would have written; nothing was done. */
  outcome: 'done' | 'already_done' | 'refused';
  units: Record<string, string>;
  error?: string;
}

/**
 * The unit options of a unit of this template: the parent's own (`apache@8081.service`) or an attached service's
 * (`apache_discovery@8081.service`; a non-template attached unit is matched by its file name).
 */
export function unitOptionsOf(template: TemplateRecord, unit: string): UnitOptions {
  const prefix = unit.includes('@') ? unit.slice(0, unit.indexOf('@')) : null;
  const attached = template.attached_services.find((a) =>
    prefix !== null ? a.name === prefix : a.service_config_details?.name_of_unit_file === unit);
  if (attached) return attached.unit_file_details_json_dict.options;
  if (prefix === template.name || template.service_config_details?.name_of_unit_file === unit) return template.unit_file_details_json_dict.options;
  throw new Error(`template of ${template.name} has no unit ${unit}`);
}

/** How long an action waits for fleet, polling after 20, 40, 80 ms ... then every 250 ms (fleetctl's pace). */
const FLEET_WAIT = { waitMs: 60_000, firstPollMs: 20, pollMs: 250 };

/**
 * Why the engine refuses to carry out this job, or null. The job must be what its action record says (the record is
 * the decision; the job only points at it), and its units the ones the decision may touch: a scale up launches only
 * an instance the service would create (its name, within its ports, its attached units), a scale down removes only
 * a recorded instance of the service that its decision marked `destroying`, with units recorded with it.
 */
export function actionRefusal(config: DynamiteConfig, data: ActionJobData, action: ActionRecord, records: ServiceRecords): string | null {
  if (data.kind !== action.kind || data.instance !== action.instance || data.attached.join('\n') !== action.attached.join('\n')) {
    return `the job (${String(data.kind)} ${String(data.instance)}) is not the recorded action (${action.kind} ${action.instance})`;
  }
  if (action.kind === 'scale_up') return launchRefusal(config, action.service, action.instance, action.attached);
  const recorded = records.instances.find((i) => i.name === action.instance);
  if (!recorded) return `${action.instance} is not a recorded instance of ${action.service}`;
  if (recorded.state !== 'destroying') return `${action.instance} is ${recorded.state}, not marked for destruction by a decision`;
  const attached = new Set(recorded.attached_services.map((a) => a.name));
  const stray = action.attached.find((a) => !attached.has(a));
  return stray === undefined ? null : `${stray} is not recorded as an attached unit of ${action.instance}`;
}

/**
 * Carries out one decided fleet action, idempotently: running it twice (a retry after a crash, a manual retry from
 * the board) converges on the same units and never creates a second instance. Then records the result in etcd.
 *   create:  `PUT {options}` for each attached unit, `PUT {desiredState: launched, options}` for the parent (created,
 *            or set launched when the identical unit exists: a running unit keeps running), `PUT launched` for each
 *            attached unit, then wait for all.
 *   destroy: attached units first, then the parent; a unit already gone counts as destroyed.
 * A job the engine would not have made (actionRefusal) is recorded as failed and touches no unit.
 * Fleet calls of a create: 1 PUT, plus 2 per attached unit, then per poll a GET of each unit not yet launched and a
 * GET of its /state once it is (the hash check): with fleet's agent converging in ~200 ms, 3 calls for a unit alone.
 */
export async function runFleetAction(ctx: EngineContext, data: ActionJobData, attempt: number): Promise<FleetActionResult> {
  const log = ctx.log.child({ decisionId: data.decisionId, service: data.service, instance: data.instance, kind: data.kind, attempt });
  const [config, { action, records }] = await Promise.all([ctx.config.current(), ctx.store.readActionAndService(data.service, data.decisionId)]);
  if (!action.value) throw new Error(`no usable action recorded at ${keys.action(data.service, data.decisionId)}`);
  if (action.value.status === 'done') {
    log.info('action already done; nothing to do');
    return { decisionId: data.decisionId, kind: data.kind, instance: data.instance, attached: data.attached, outcome: 'already_done', units: {} };
  }
  const template = records.template.value;
  if (!template) throw new Error(`service ${data.service} has no template in etcd`);

  // A service just added by a config change may be unknown to this worker's cached config for a moment: a refusal
  // is final, so it is made only on the newest config etcd holds.
  let refusal = actionRefusal(config, data, action.value, records);
  if (refusal !== null) refusal = actionRefusal((await ctx.config.latest({ fresh: true })).config, data, action.value, records);
  if (refusal !== null) {
    const error = `refused: ${refusal}`;
    await recordActionResult(ctx, { ...data, kind: action.value.kind, instance: action.value.instance, attached: action.value.attached }, { status: 'failed', error, result: null });
    ctx.metrics.fleetActions.inc({ service: data.service, kind: action.value.kind, result: 'refused' });
    log.error({ key: keys.action(data.service, data.decisionId) }, `fleet action ${error}; no unit touched`);
    return { decisionId: data.decisionId, kind: data.kind, instance: data.instance, attached: data.attached, outcome: 'refused', units: {}, error };
  }

  const recorded = records.instances.find((i) => i.name === data.instance);
  if (data.kind === 'scale_up' && (!recorded || recorded.state === 'destroying')) {
    // A later decision already removes (or removed) this instance: launching it now would bring it back.
    await recordActionResult(ctx, data, { status: 'done', error: null, result: { superseded: true } });
    log.warn({ state: recorded?.state ?? 'absent' }, 'scale up superseded by a later scale down; nothing launched');
    return { decisionId: data.decisionId, kind: data.kind, instance: data.instance, attached: data.attached, outcome: 'done', units: {} };
  }

  const started = ctx.clock.now();
  const units: Record<string, string> = {};
  if (data.kind === 'scale_up') {
    if (attempt === 1 && action.value.dueAt !== null) {
      ctx.metrics.expiryToActionSeconds.observe({ service: data.service }, Math.max(0, started - action.value.dueAt) / 1000);
    }
    // The original's order: attached units submitted first, then the parent submitted and launched in one PUT,
    // then the attached units launched (they follow it by MachineOf=); one wait for all of them. No look first:
    // every call converges whatever the unit's state (a running identical unit keeps running).
    for (const unit of data.attached) units[unit] = await ctx.fleet.submit(unit, unitOptionsOf(template, unit));
    units[data.instance] = await ctx.fleet.submitAndLaunch(data.instance, unitOptionsOf(template, data.instance));
    for (const unit of data.attached) await ctx.fleet.setDesiredState(unit, 'launched');
    await ctx.fleet.waitUntilLaunched([data.instance, ...data.attached], FLEET_WAIT);
  } else {
    for (const unit of data.attached) units[unit] = await ctx.fleet.ensureDestroyed(unit, FLEET_WAIT);
    units[data.instance] = await ctx.fleet.ensureDestroyed(data.instance, FLEET_WAIT);
  }
  const seconds = (ctx.clock.now() - started) / 1000;
  ctx.metrics.fleetActionSeconds.observe({ kind: data.kind }, seconds);
  ctx.metrics.fleetActions.inc({ service: data.service, kind: data.kind, result: 'done' });

  await recordActionResult(ctx, data, { status: 'done', error: null, result: { units, seconds } });
  log.info({ units, seconds }, `${data.kind === 'scale_up' ? 'launched' : 'destroyed'} ${data.instance}`);
  return { decisionId: data.decisionId, kind: data.kind, instance: data.instance, attached: data.attached, outcome: 'done', units };
}

/**
 * Mirrors an action's end into etcd in one named transaction (commitActionResult): the action's status, the
 * instance record (launched, or deleted after a destroy), the template's port slots and a decision record.
 */
export async function recordActionResult(
  ctx: EngineContext,
  data: ActionJobData,
  end: { status: 'done' | 'failed'; error: string | null; result: Record<string, unknown> | null },
): Promise<void> {
  const config = await ctx.config.current();
  await retryOnConflict(`recording the result of action ${data.decisionId}`, async () => {
    const now = ctx.clock.now();
    const { action: actionV, records } = await ctx.store.readActionAndService(data.service, data.decisionId);
    if (!actionV.value || actionV.value.status === 'done') return undefined;
    const next: ActionRecord = { ...actionV.value, status: end.status, error: end.error, result: end.result, finishedAt: now, attempts: actionV.value.attempts + 1 };
    let instance: { put: InstanceRecord } | { del: string } | null = null;
    let instances = records.instances;
    if (end.status === 'done') {
      const current = records.instances.find((i) => i.name === data.instance);
      if (data.kind === 'scale_down') {
        instances = records.instances.filter((i) => i.name !== data.instance);
        instance = { del: data.instance };
      } else if (current && current.state !== 'destroying') {
        // Only a record still `creating` becomes `launched`: never resurrect one a scale down marked or removed.
        const launched: InstanceRecord = {
          ...current,
          state: 'launched',
          attached_services: data.attached.map((name) => ({ name, state: 'launched', attached_services: [] })),
        };
        instances = records.instances.map((i) => (i.name === data.instance ? launched : i));
        instance = { put: launched };
      }
    }
    const template = end.status === 'done' && records.template.value ? templateAfter(config, records.template.value, data.service, instances) : null;
    const record = actionRecordOf(data, end, now);
    const ok = await commitActionResult(ctx.store, { action: next, actionRevision: actionV.modRevision, templateRevision: records.template.modRevision, template, instance, record });
    if (!ok) return CONFLICT;
    ctx.metrics.decisions.inc({ service: data.service, outcome: record.outcome, reason: record.reason ?? '' });
    await ctx.notifier.records([record]);
    return undefined;
  });
}

function actionRecordOf(data: ActionJobData, end: { status: 'done' | 'failed'; error: string | null; result: Record<string, unknown> | null }, now: number): DecisionRecord {
  return {
    id: deterministicId(now, end.status, data.decisionId),
    at: now,
    service: data.service,
    policy: null,
    machine: null,
    direction: data.kind === 'scale_up' ? 'up' : 'down',
    outcome: end.status === 'done' ? 'action_done' : 'action_failed',
    reason: end.status === 'done' ? null : end.error,
    rule: null,
    inputs: { decisionId: data.decisionId, ...(end.result ?? {}) },
    action: { kind: data.kind, instance: data.instance, attached: data.attached },
    message: end.status === 'done'
      ? `${data.kind === 'scale_up' ? 'launched' : 'destroyed'} ${data.instance}${data.attached.length ? ` with ${data.attached.join(', ')}` : ''} (decision ${data.decisionId})`
      : `fleet action for ${data.instance} failed after its retries: ${end.error} (decision ${data.decisionId}); retry it from the board`,
  };
}
