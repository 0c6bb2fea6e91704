import {
  countsOf,
  decideScaling,
  findService,
  usedPortNumbers,
  type DynamiteConfig,
  type InstanceCounts,
  type RecordedInstance,
  type ScaleDecision,
  type ScaleRequest,
} from '@dynamite/domain';
import type { InstanceRecord, ScaleCommit, ServiceRecords, TemplateRecord } from '@dynamite/store';

/**
 * A scaling decision made once, on the service's records read once, and carried into its commit: the commit is
 * guarded by the template revision those records were read at, so a concurrent decision for the same service
 * makes it fail and the caller reads again and decides again. No number of workers pushes a service past its bounds.
 */
export interface ServiceDecision {
  records: ServiceRecords;
  decision: ScaleDecision;
  before: InstanceCounts;
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

/** Decides `request` against the service's recorded instances. */
export function decideOn(config: DynamiteConfig, records: ServiceRecords, request: ScaleRequest): ServiceDecision {
  const recorded = toRecordedInstances(records.instances);
  return { records, decision: decideScaling(config, records.service, recorded, request), before: countsOf(recorded) };
}

/** The template after a change of instances: port slots recomputed, the original's instance map cleared. */
export function templateAfter(config: DynamiteConfig, template: TemplateRecord, service: string, instances: InstanceRecord[]): TemplateRecord {
  const svc = findService(config, service);
  const used = svc ? usedPortNumbers(svc, instances) : undefined;
  return { ...template, fleet_service_instances: {}, ...(used ? { used_port_numbers: used } : {}) };
}

/** Everything a decided action changes in the service's records, ready for a named transaction. */
export function scaleCommitFor(
  config: DynamiteConfig,
  decided: ServiceDecision,
  meta: { decisionId: string; reason: string; now: number; dueAt: number | null; cooldown: { policy: string; until: number; startedAt: number } | null },
): ScaleCommit | null {
  const { decision, records } = decided;
  if (decision.outcome !== 'action' || !records.template.value) return null;
  let instance: InstanceRecord;
  let instances: InstanceRecord[];
  if (decision.kind === 'scale_up') {
    instance = {
      name: decision.instance,
      state: 'creating',
      attached_services: decision.attached.map((name) => ({ name, state: 'creating', attached_services: [] })),
      port: decision.port,
      created_at: meta.now,
      decision_id: meta.decisionId,
      origin: 'decision',
    };
    instances = [...records.instances, instance];
  } else {
    instance = { ...records.instances.find((i) => i.name === decision.instance)!, state: 'destroying', decision_id: meta.decisionId };
    instances = records.instances.map((i) => (i.name === decision.instance ? instance : i));
  }
  return {
    service: records.service,
    templateRevision: records.template.modRevision,
    template: templateAfter(config, records.template.value, records.service, instances),
    instance,
    action: {
      decisionId: meta.decisionId,
      service: records.service,
      kind: decision.kind,
      instance: decision.instance,
      attached: decision.attached,
      reason: meta.reason,
      status: 'pending',
      createdAt: meta.now,
      dueAt: meta.dueAt,
      finishedAt: null,
      attempts: 0,
      error: null,
      result: null,
    },
    cooldown: meta.cooldown
      ? { policy: meta.cooldown.policy, record: { until: meta.cooldown.until, decisionId: meta.decisionId, startedAt: meta.cooldown.startedAt } }
      : null,
  };
}
