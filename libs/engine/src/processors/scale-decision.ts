import {
  AGGREGATE_MACHINE,
  countsOf,
  decideAction,
  findService,
  keys,
  normalizeInstanceName,
  parseRegistrationKey,
  registrationKey,
  registrationsPrefix,
  scaleDownTargetFor,
  scaleDownWaitsForScaleUp,
  usedPortNumbers,
  type ActionDecision,
  type DynamiteConfig,
  type FireEffect,
  type InstanceCounts,
  type MachineRef,
  type RecordedInstance,
  type ScaleRequest,
  type ScalingPolicyConfig,
  type ServiceControls,
} from '@dynamite/domain';

import type { ActionRecord, Guard, InstanceRecord, ScaleCommit, ServiceRecords, TemplateRecord } from '@dynamite/store';
import type { EngineContext } from '../runtime/context';

/**
 * A scaling decision made once, on the service's records (and the operator's controls) read once, and carried into
 * its commit: the commit is guarded by the template revision those records were read at and by the control keys, so
 * a concurrent decision for the same service, or a pause written meanwhile, makes it fail and the caller reads again
 * and decides again. No number of workers pushes a service past its bounds.
 */
export interface ServiceDecision {
  records: ServiceRecords;
  decision: ActionDecision;
  before: InstanceCounts;
  /** The most instances the decision could move (scale_up_step / scale_down_step, or a bound's need). */
  step: number;
}

export function toRecordedInstances(instances: InstanceRecord[]): RecordedInstance[] {
  return instances.map((i) => ({
    name: i.name,
    port: i.port,
    state: i.state,
    createdAt: i.created_at,
    decisionId: i.decision_id,
    attached: i.attached_services.map((a) => a.name),
  }));
}

/** The operator's controls as the pure decision reads them. */
export function controlsOf(records: ServiceRecords): ServiceControls {
  const pause = records.controls.pause.value;
  return {
    engineDryRun: records.controls.dryRun.value !== null,
    pause: pause ? { directions: pause.directions, reason: pause.reason, until: pause.until, at: pause.at, by: pause.by } : null,
    protectedInstances: new Set(Object.keys(records.controls.protections)),
  };
}

/** Decides `request` against the service's recorded instances and controls, at `at` (a fire's time, or now). */
export function decideOn(
  config: DynamiteConfig,
  records: ServiceRecords,
  request: ScaleRequest,
  opts: { at: number; step?: number; armedUpPolicies?: string[] },
): ServiceDecision {
  const recorded = toRecordedInstances(records.instances);
  const step = opts.step ?? 1;
  const decision = decideAction(config, records.service, recorded, request, { controls: controlsOf(records), at: opts.at, step, armedUpPolicies: opts.armedUpPolicies });
  return { records, decision, before: countsOf(recorded), step };
}

/**
 * Reads the service's records (with its controls, and for a scale down that waits for the scale-up policies, their
 * state machines) and decides what a fire does: one read, one decision of up to the service's step, carried into
 * the commit.
 */
export async function decideFire(ctx: EngineContext, config: DynamiteConfig, ref: MachineRef, policy: ScalingPolicyConfig, fire: FireEffect): Promise<ServiceDecision> {
  const svc = findService(config, ref.service);
  const waits = svc !== undefined && fire.direction === 'down' && scaleDownWaitsForScaleUp(svc);
  const [records, request] = await Promise.all([
    ctx.store.readService(ref.service, waits ? { machinesOf: svc.scaleUpPolicies } : {}),
    scaleRequestFor(ctx, config, ref, policy, fire.direction),
  ]);
  // In config order; an up window armed after this read is a new window, newer than the decision (no guard needed).
  const armed = new Set(records.machines.filter((m) => m.stored.state.armed !== null).map((m) => m.policy));
  const armedUpPolicies = waits ? svc.scaleUpPolicies.filter((p) => armed.has(p)) : [];
  const step = svc === undefined ? 1 : fire.direction === 'up' ? svc.scaleUpStep : svc.scaleDownStep;
  return decideOn(config, records, request, { at: fire.at, step, armedUpPolicies });
}

/** Which instance a fired policy acts on (scale down removes the instance whose metric triggered). */
async function scaleRequestFor(ctx: EngineContext, config: DynamiteConfig, ref: MachineRef, policy: ScalingPolicyConfig, direction: 'up' | 'down'): Promise<ScaleRequest> {
  if (direction === 'up') return { direction: 'up' };
  if (ref.machine === AGGREGATE_MACHINE) return { direction: 'down', target: scaleDownTargetFor(ref.machine, null) };
  const registered = await resolveRegistration(ctx, config.etcd.applicationBasePath, policy.serviceType, ref.machine);
  // decideScaling refuses a registered instance that is not a live instance of this service.
  return { direction: 'down', target: scaleDownTargetFor(ref.machine, registered) };
}

/** `<application_base_path>/<type>/<uuid>/service_instance_name`, looked up under the policy's type first. */
export async function resolveRegistration(ctx: EngineContext, base: string, serviceType: string, uuid: string): Promise<string | null> {
  const direct = await ctx.store.getString(registrationKey(base, serviceType, uuid));
  if (direct !== null) return normalizeInstanceName(direct);
  const all = await ctx.store.etcd.getAll().prefix(registrationsPrefix(base)).keys();
  const match = all.find((k) => parseRegistrationKey(k, base)?.uuid === uuid);
  if (!match) return null;
  const value = await ctx.store.getString(match);
  return value === null ? null : normalizeInstanceName(value);
}

/** The template after a change of instances: port slots recomputed, the original's instance map cleared. */
export function templateAfter(config: DynamiteConfig, template: TemplateRecord, service: string, instances: InstanceRecord[]): TemplateRecord {
  const svc = findService(config, service);
  const used = svc ? usedPortNumbers(svc, instances) : undefined;
  return { ...template, fleet_service_instances: {}, ...(used ? { used_port_numbers: used } : {}) };
}

/** The id of the k-th action (from 0) of a decision: the decision id, then `<decision id>-2`, `-3`, ... */
export function actionId(decisionId: string, k: number): string {
  return k === 0 ? decisionId : `${decisionId}-${k + 1}`;
}

/**
 * Everything a decided action changes in the service's records, ready for a named transaction: per instance its
 * record and its action, the template's port slots, and the cooldown -- or, in a dry run, the cooldown alone (the
 * records then stay what a real decision would have started from, and the cooldown paces the records as it would
 * pace real decisions). Null when nothing was decided.
 */
export function scaleCommitFor(
  config: DynamiteConfig,
  decided: ServiceDecision,
  meta: { decisionId: string; reason: string; now: number; dueAt: number | null; cooldown: { policy: string; until: number; startedAt: number } | null },
): ScaleCommit | null {
  const { decision, records } = decided;
  if (decision.outcome !== 'action' || !records.template.value) return null;
  const { controls, service } = records;
  const controlGuards: Guard[] = [
    { key: keys.dryRun, modRevision: controls.dryRun.modRevision },
    { key: keys.pause(service), modRevision: controls.pause.modRevision },
    ...decision.actions
      .filter((a) => a.kind === 'scale_down')
      .map((a) => ({ key: keys.protection(service, a.instance), modRevision: controls.protections[a.instance]?.modRevision ?? '0' })),
  ];
  const cooldown = meta.cooldown
    ? { policy: meta.cooldown.policy, record: { until: meta.cooldown.until, decisionId: meta.decisionId, startedAt: meta.cooldown.startedAt } }
    : null;
  if (decision.dryRun) return { service, templateRevision: records.template.modRevision, controlGuards, template: null, instances: [], actions: [], cooldown };

  let instances = records.instances;
  const changed: InstanceRecord[] = [];
  const actions: ActionRecord[] = [];
  decision.actions.forEach((a, k) => {
    const id = actionId(meta.decisionId, k);
    let instance: InstanceRecord;
    if (a.kind === 'scale_up') {
      instance = {
        name: a.instance,
        state: 'creating',
        attached_services: a.attached.map((name) => ({ name, state: 'creating', attached_services: [] })),
        port: a.port,
        created_at: meta.now,
        decision_id: id,
        origin: 'decision',
      };
      instances = [...instances, instance];
    } else {
      instance = { ...instances.find((i) => i.name === a.instance)!, state: 'destroying', decision_id: id };
      instances = instances.map((i) => (i.name === a.instance ? instance : i));
    }
    changed.push(instance);
    actions.push({
      decisionId: id,
      service,
      kind: a.kind,
      instance: a.instance,
      attached: a.attached,
      reason: meta.reason,
      status: 'pending',
      createdAt: meta.now,
      dueAt: meta.dueAt,
      finishedAt: null,
      attempts: 0,
      error: null,
      result: null,
    });
  });
  return {
    service,
    templateRevision: records.template.modRevision,
    controlGuards,
    template: templateAfter(config, records.template.value, service, instances),
    instances: changed,
    actions,
    cooldown,
  };
}
