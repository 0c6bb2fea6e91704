import {
  attachedInstancesOf,
  boundRepairRecord,
  countsOf,
  deterministicId,
  findService,
  instancesNeededForMin,
  isDryRun,
  keys,
  launchRefusal,
  parseInstanceOf,
  type DecisionRecord,
  type DynamiteConfig,
  type RecordedInstance,
  type ScaleRequest,
} from '@dynamite/domain';
import { CONFLICT, commitAdoptedUnit, commitBoundRepair, commitRecords, retryOnConflict, type InstanceRecord, type ServiceRecords, type TemplateRecord } from '@dynamite/store';
import pMap from 'p-map';
import type { EngineContext } from '../runtime/context';

/** Services reconciled at once: enough to hide etcd and Redis round trips, few enough not to flood them. */
const SERVICES_AT_ONCE = 16;
import { controlsOf, decideOn, scaleCommitFor, templateAfter, toRecordedInstances } from './scale-decision';
import { recordActionResult, unitOptionsOf } from './fleet-action';

export interface ReconcileReport {
  pendingActionsRequeued: number;
  timersEnsured: number;
  cooldownsEnsured: number;
  boundRepairs: string[];
  healed: string[];
  adopted: string[];
  /** False when adoption was asked for but fleet could not be listed (bound repairs were skipped then). */
  adoptionDone: boolean;
}

/**
 * Brings what only lives in Redis back in line with etcd, and etcd's recorded instances in line with fleet:
 *   - every pending action has its job; every armed timer and running cooldown has its delayed job
 *     (job ids are deterministic, so this is a no-op when they exist);
 *   - every service has at least min_instance and at most max_instance active instances (bound repairs);
 *   - every recorded `launched` instance whose units fleet lost is launched again.
 * Runs periodically (a job scheduler), at scheduler start and after Redis was wiped.
 */
export async function reconcile(ctx: EngineContext, opts: { adopt?: boolean; heal?: boolean } = {}): Promise<ReconcileReport> {
  const config = await ctx.config.current();
  const now = ctx.clock.now();
  const report: ReconcileReport = { pendingActionsRequeued: 0, timersEnsured: 0, cooldownsEnsured: 0, boundRepairs: [], healed: [], adopted: [], adoptionDone: !opts.adopt };

  const pending = (await ctx.store.listActions()).filter((a) => a.status === 'pending');
  await pMap(pending, async (action) => {
    const job = await ctx.jobs.ensureAction(action);
    if (job?.failed) {
      const data = { service: action.service, decisionId: action.decisionId, kind: action.kind, instance: action.instance, attached: action.attached, reason: action.reason };
      await recordActionResult(ctx, data, { status: 'failed', error: job.failed, result: null });
    }
  }, { concurrency: SERVICES_AT_ONCE });
  report.pendingActionsRequeued = pending.length;
  const { machines, cooldowns } = await ctx.store.listPolicyState();
  const armed = machines.filter((m) => m.stored.state.armed);
  await pMap(armed, (m) => ctx.jobs.ensureTimer({ service: m.service, policy: m.policy, machine: m.machine }, m.stored.state.armed!.timerId, m.stored.state.armed!.expiresAt, now), { concurrency: SERVICES_AT_ONCE });
  report.timersEnsured = armed.length;
  const running = cooldowns.filter((c) => c.cooldown.until > now);
  await pMap(running, (c) => ctx.jobs.addCooldownEnd({ service: c.service, policy: c.policy, until: c.cooldown.until, decisionId: c.cooldown.decisionId }, now), { concurrency: SERVICES_AT_ONCE });
  report.cooldownsEnsured = running.length;

  let fleetUnits: Set<string> | null = null;
  if (opts.adopt || opts.heal !== false) {
    try {
      fleetUnits = new Set((await ctx.fleet.listUnits()).map((u) => u.name));
    } catch (err) {
      ctx.log.warn({ err: String(err) }, 'fleet unreachable during reconcile; skipping adoption and healing');
    }
  }
  if (opts.adopt && fleetUnits) {
    report.adopted = await adoptUnits(ctx, config, [...fleetUnits]);
    report.adoptionDone = true;
  }

  // One look over every service's records (a few transactions, not two reads a service: 10,000 services are
  // reconciled every reconcile_interval); a service that may need work is read again on its own, guarded as always.
  const services = config.services.filter((s) => !s.isAttached);
  const overview = await ctx.store.readServices(services.map((s) => s.name));
  const needsWork = (service: string): { repair: boolean; heal: boolean } => {
    const records = overview.get(service)!;
    if (!records.template.value) return { repair: true, heal: true };
    const { needed, over } = boundsOff(config, service, toRecordedInstances(records.instances));
    const heal = fleetUnits !== null && records.instances.some((i) => unitsLost(i, fleetUnits!).length > 0);
    return { repair: needed > 0 || over > 0, heal };
  };
  // Services are independent (each repair is guarded by its own template): several at a time.
  await pMap(services, async (service) => {
    const work = needsWork(service.name);
    // Never create instances before the ones fleet already runs were adopted.
    if (report.adoptionDone && work.repair) report.boundRepairs.push(...(await repairBounds(ctx, config, service.name)));
    if (fleetUnits && opts.heal !== false && work.heal) report.healed.push(...(await healService(ctx, config, service.name, fleetUnits)));
  }, { concurrency: SERVICES_AT_ONCE });
  return report;
}

/** How far a service's instances are from its bounds: instances min_instance still needs, active ones over max_instance. */
function boundsOff(config: DynamiteConfig, service: string, instances: RecordedInstance[]): { needed: number; over: number } {
  return { needed: instancesNeededForMin(config, service, instances), over: countsOf(instances).active - findService(config, service)!.maxInstance };
}

/** The units of a recorded `launched` instance (and its attached units) that fleet no longer has. */
function unitsLost(instance: InstanceRecord, fleetUnits: Set<string>): string[] {
  if (instance.state !== 'launched') return [];
  return [instance.name, ...instance.attached_services.map((a) => a.name)].filter((n) => !fleetUnits.has(n));
}

/** Suppressions of a bound repair that an operator caused: recorded (once), where a bound's own are not. */
const OPERATOR_HOLDS = new Set(['paused', 'protected']);

/**
 * Decides the scale ups min_instance still needs, and the scale downs a lowered max_instance asks for: each decided
 * once on the records read, and committed with them (commitBoundRepair), one instance at a time. A repair an
 * operator holds (a pause, protected instances) or a dry run only records what it would have done, once per
 * situation (the same records and controls), not on every reconcile.
 */
async function repairBounds(ctx: EngineContext, config: DynamiteConfig, service: string): Promise<string[]> {
  const svc = findService(config, service)!;
  const done: string[] = [];
  for (let i = 0; i < 100; i += 1) {
    const repaired = await retryOnConflict(`bound repair of ${service}`, async () => {
      const records = await ctx.store.readService(service);
      if (!records.template.value) return null;
      const instances = toRecordedInstances(records.instances);
      const { needed, over } = boundsOff(config, service, instances);
      if (needed <= 0 && over <= 0) return null;
      const now = ctx.clock.now();
      const bound = needed > 0 ? 'min_instance' as const : 'max_instance' as const;
      const request: ScaleRequest = needed > 0 ? { direction: 'up' } : { direction: 'down', target: { kind: 'newest' } };
      const limit = bound === 'min_instance' ? svc.minInstance : svc.maxInstance;
      const decided = decideOn(config, records, request, { at: now });
      const { decision } = decided;
      const recordOnly = decision.outcome === 'action' ? decision.dryRun : OPERATOR_HOLDS.has(decision.reason);
      // A repair that cannot act for a reason of its own (e.g. over max only through a failed creation) is not recorded on every reconcile.
      if (decision.outcome !== 'action' && !recordOnly) return null;
      if (recordOnly) {
        // The whole need in one record: what the repair would do, or what holds it.
        const whole = decideOn(config, records, request, { at: now, step: Math.max(needed, over) });
        const situation = situationOf(records, bound, whole.decision.outcome === 'action' ? 'dry_run' : whole.decision.reason);
        const record = boundRepairRecord({ service, decisionId: deterministicId(now, bound, situation), at: now, bound, limit }, whole.decision, whole.before, { needed, over, situation });
        await recordOnce(ctx, record, situation);
        return null;
      }
      const decisionId = deterministicId(now, bound, service, records.template.modRevision);
      const record = boundRepairRecord({ service, decisionId, at: now, bound, limit }, decision, decided.before, { needed, over });
      const scale = scaleCommitFor(config, decided, { decisionId, reason: bound, now, dueAt: null, cooldown: null });
      if (!(await commitBoundRepair(ctx.store, { service, templateRevision: records.template.modRevision, record, scale }))) return CONFLICT;
      await noteRecord(ctx, record);
      return scale;
    });
    if (!repaired) return done;
    for (const action of repaired.actions) {
      await ctx.jobs.addAction(action);
      done.push(`${action.kind} ${action.instance}`);
    }
  }
  return done;
}

/** What a record-only repair depends on: the same records and controls give the same situation, recorded once. */
function situationOf(records: ServiceRecords, ...what: string[]): string {
  const { controls } = records;
  const protections = Object.entries(controls.protections).map(([name, v]) => `${name}@${v.modRevision}`).sort();
  return deterministicId(0, records.service, ...what, records.template.modRevision, ...Object.values(records.instanceRevisions).sort(),
    controls.dryRun.modRevision, controls.pause.modRevision, ...protections).slice(10);
}

/** How many of a service's newest records are looked through for the same situation. */
const SITUATION_LOOKBACK = 50;

/** Writes a record that changes nothing else, unless one of the newest records already says it for `situation`. */
async function recordOnce(ctx: EngineContext, record: DecisionRecord, situation: string): Promise<void> {
  const recent = await ctx.store.listDecisions(record.service, SITUATION_LOOKBACK);
  if (recent.some((r) => r.inputs['situation'] === situation)) return;
  await commitRecords(ctx.store, record.service, [record]);
  await noteRecord(ctx, record);
}

async function noteRecord(ctx: EngineContext, record: DecisionRecord): Promise<void> {
  ctx.metrics.decisions.inc({ service: record.service, outcome: record.outcome, reason: record.reason ?? '' });
  ctx.log.info({ decisionId: record.id, service: record.service, outcome: record.outcome, reason: record.reason, action: record.action }, record.message);
  await ctx.notifier.records([record]);
}

/** Records fleet units that are instances of configured services but unknown to etcd (at scheduler start). */
async function adoptUnits(ctx: EngineContext, config: DynamiteConfig, units: string[]): Promise<string[]> {
  const adopted: string[] = [];
  const byService = new Map<string, string[]>();
  for (const unit of units.sort()) {
    const match = parseInstanceOf(config, unit);
    if (match) byService.set(match.service, [...(byService.get(match.service) ?? []), unit]);
  }
  // One service's units one at a time (each adoption is guarded by the service's template), services in parallel.
  await pMap(byService.values(), async (own) => { for (const unit of own) await adoptOne(unit); }, { concurrency: SERVICES_AT_ONCE });
  return adopted;

  async function adoptOne(unit: string): Promise<void> {
    const match = parseInstanceOf(config, unit)!;
    const done = await retryOnConflict(`adopting ${unit}`, async () => {
      const records = await ctx.store.readService(match.service);
      if (!records.template.value || records.instances.some((i) => i.name === unit)) return false;
      const instance: InstanceRecord = {
        name: unit,
        state: 'launched',
        attached_services: attachedInstancesOf(config, match.service, unit).map((name) => ({ name, state: 'launched', attached_services: [] })),
        port: match.port,
        created_at: ctx.clock.now(),
        decision_id: null,
        origin: 'adopted',
      };
      const template = templateAfter(config, records.template.value, match.service, [...records.instances, instance]);
      return (await commitAdoptedUnit(ctx.store, { service: match.service, templateRevision: records.template.modRevision, template, instance })) ? true : CONFLICT;
    });
    if (done) {
      adopted.push(unit);
      ctx.log.info({ service: match.service, instance: unit }, `adopted ${unit}, already in fleet`);
    }
  }
}

/**
 * Launches again the units of recorded `launched` instances that fleet no longer has -- only instances this service
 * would have created under the current config (its name, within its ports, with its attached units): a record
 * written by someone else never makes the engine launch a unit.
 */
async function healService(ctx: EngineContext, config: DynamiteConfig, service: string, fleetUnits: Set<string>): Promise<string[]> {
  const records = await ctx.store.readService(service);
  const template: TemplateRecord | null = records.template.value;
  if (!template) return [];
  const svc = findService(config, service);
  const dryRun = svc !== undefined && isDryRun(svc, controlsOf(records));
  const healed: string[] = [];
  for (const instance of records.instances) {
    const missing = unitsLost(instance, fleetUnits);
    if (missing.length === 0) continue;
    const refusal = launchRefusal(config, service, instance.name, instance.attached_services.map((a) => a.name));
    if (refusal !== null) {
      ctx.store.report({ kind: 'instance', key: keys.instance(service, instance.name), modRevision: records.instanceRevisions[instance.name] ?? '0', reason: 'not_launchable', message: `not healed: ${refusal}` });
      continue;
    }
    if (dryRun) {
      // Nothing reaches fleet in a dry run: record, once per version of the instance, what would have been launched.
      const now = ctx.clock.now();
      const situation = situationOf(records, 'heal', instance.name, records.instanceRevisions[instance.name] ?? '0', ...missing);
      await recordOnce(ctx, {
        id: deterministicId(now, 'heal', situation), at: now, service, policy: null, machine: null, direction: null,
        outcome: 'dry_run', reason: 'heal', rule: 'launch again what fleet lost',
        inputs: { situation, missing, dryRun: true }, action: null,
        message: `fleet has lost ${missing.join(', ')} of ${instance.name}: dry run, would launch ${missing.length === 1 ? 'it' : 'them'} again; nothing done`,
      }, situation);
      continue;
    }
    try {
      // The whole instance is launched again, its units still running too (a launch of a running unit keeps it).
      for (const name of [instance.name, ...instance.attached_services.map((a) => a.name)]) await ctx.fleet.submitAndLaunch(name, unitOptionsOf(template, name));
      healed.push(instance.name);
      ctx.log.warn({ service, instance: instance.name, missing }, `fleet had lost ${missing.join(', ')}; launched again`);
    } catch (err) {
      ctx.log.error({ service, instance: instance.name, err: String(err) }, 'could not heal instance');
    }
  }
  return healed;
}
