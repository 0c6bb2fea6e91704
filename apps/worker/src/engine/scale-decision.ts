import {
  countsOf,
  decideScaling,
  keys,
  type DecisionRecord,
  type DynamiteConfig,
  type RecordedInstance,
  type ScaleDecision,
  type ScaleRequest,
} from '@dynamite/domain';
import type { ActionRecord, EngineStore, Guard, InstanceRecord, ServiceRecords, TemplateRecord, Write } from '@dynamite/store';

/** What a caller asks to decide, plus the writes it wants committed in the same transaction. */
export interface ScaleDecisionInput {
  service: string;
  request: ScaleRequest;
  decisionId: string;
  /** The policy and state machine that fired, or null for bound repairs (min/max) and adoption. */
  policy: string | null;
  machine: string | null;
  /** Why, in a word: the policy name, `min_instance` or `max_instance`. */
  reason: string;
  rule: string | null;
  inputs: Record<string, unknown>;
  /** When the decision was due (a timer's expiry), for latency figures. */
  dueAt: number | null;
  /** The cooldown to start when an action is decided (policy decisions only). */
  cooldown: { policy: string; ms: number } | null;
  guards: Guard[];
  writes: Write[];
  now: number;
}

export type ScaleDecisionResult =
  | { committed: false }
  | { committed: true; decision: ScaleDecision; action: ActionRecord | null; record: DecisionRecord; alreadyDecided: boolean };

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

/** The original's `used_port_numbers`: one slot per port, the port number where used, 0 where free. */
export function usedPortNumbers(config: DynamiteConfig, service: string, instances: InstanceRecord[]): number[] | undefined {
  const svc = config.services.find((s) => s.name === service);
  if (!svc || !svc.isTemplate || svc.basePort === null) return undefined;
  const slots = new Array<number>(svc.maxInstance * svc.portsPerInstance).fill(0);
  for (const instance of instances) {
    if (instance.port === null) continue;
    for (let p = instance.port; p < instance.port + svc.portsPerInstance; p += 1) {
      const index = p - svc.basePort;
      if (index >= 0 && index < slots.length) slots[index] = p;
    }
  }
  return slots;
}

export function templateWrite(config: DynamiteConfig, records: ServiceRecords, instances: InstanceRecord[]): Write[] {
  const template = records.template.value;
  if (!template) return [];
  const next: TemplateRecord = { ...template, fleet_service_instances: {} };
  const used = usedPortNumbers(config, records.service, instances);
  if (used) next.used_port_numbers = used;
  return [{ put: keys.serviceTemplate(records.service), value: JSON.stringify(next) }];
}

/**
 * Decides one scale action against the service's recorded instances and commits it -- the action, the instance
 * records, the template's port slots, the cooldown and the decision record -- in ONE etcd transaction guarded by the
 * template's revision. Any concurrent decision for the same service makes this commit fail; the caller re-reads
 * and decides again, so no number of workers can push a service past its bounds.
 */
export async function commitScaleDecision(store: EngineStore, config: DynamiteConfig, input: ScaleDecisionInput): Promise<ScaleDecisionResult> {
  const [existing, records] = await Promise.all([store.readAction(input.service, input.decisionId), store.readService(input.service)]);
  if (!records.template.value) {
    throw new Error(`service ${input.service} has no template at ${keys.serviceTemplate(input.service)}; is the scheduler running?`);
  }
  if (existing.value) {
    // Decided before (this is a retry): commit the caller's state writes, never a second action.
    const ok = await store.commit(input.guards, input.writes);
    if (!ok) return { committed: false };
    const decision: ScaleDecision = {
      outcome: 'action', kind: existing.value.kind, instance: existing.value.instance, port: null, attached: existing.value.attached,
    };
    return { committed: true, decision, action: existing.value, record: recordFor(input, decision, records.instances), alreadyDecided: true };
  }

  const decision = decideScaling(config, input.service, toRecordedInstances(records.instances), input.request);
  const record = recordFor(input, decision, records.instances);
  const guards: Guard[] = [
    ...input.guards,
    { key: keys.serviceTemplate(input.service), modRevision: records.template.modRevision },
    { key: keys.action(input.service, input.decisionId), modRevision: '0' },
  ];
  const writes: Write[] = [...input.writes, { put: keys.decision(input.service, record.id), value: JSON.stringify(record) }];
  let action: ActionRecord | null = null;

  if (decision.outcome === 'action') {
    action = {
      decisionId: input.decisionId,
      service: input.service,
      kind: decision.kind,
      instance: decision.instance,
      attached: decision.attached,
      reason: input.reason,
      status: 'pending',
      createdAt: input.now,
      dueAt: input.dueAt,
      finishedAt: null,
      attempts: 0,
      error: null,
      result: null,
    };
    let instances: InstanceRecord[];
    if (decision.kind === 'scale_up') {
      const created: InstanceRecord = {
        name: decision.instance,
        state: 'creating',
        attached_services: decision.attached.map((name) => ({ name, state: 'creating', attached_services: [] })),
        port: decision.port,
        created_at: input.now,
        decision_id: input.decisionId,
        origin: 'decision',
      };
      instances = [...records.instances, created];
      writes.push({ put: keys.instance(input.service, created.name), value: JSON.stringify(created) });
    } else {
      instances = records.instances.map((i) => (i.name === decision.instance ? { ...i, state: 'destroying' as const, decision_id: input.decisionId } : i));
      const target = instances.find((i) => i.name === decision.instance)!;
      writes.push({ put: keys.instance(input.service, target.name), value: JSON.stringify(target) });
    }
    writes.push(...templateWrite(config, records, instances));
    writes.push({ put: keys.action(input.service, input.decisionId), value: JSON.stringify(action) });
    if (input.cooldown) {
      writes.push({
        put: keys.cooldown(input.service, input.cooldown.policy),
        value: JSON.stringify({ until: input.now + input.cooldown.ms, decisionId: input.decisionId, startedAt: input.now }),
      });
    }
  }
  const ok = await store.commit(guards, writes);
  if (!ok) return { committed: false };
  return { committed: true, decision, action, record, alreadyDecided: false };
}

function recordFor(input: ScaleDecisionInput, decision: ScaleDecision, instances: InstanceRecord[]): DecisionRecord {
  const counts = countsOf(toRecordedInstances(instances));
  const direction = input.request.direction;
  const base = {
    id: input.decisionId,
    at: input.now,
    service: input.service,
    policy: input.policy,
    machine: input.machine,
    direction,
    rule: input.rule,
    inputs: { ...input.inputs, instancesBefore: counts },
  };
  if (decision.outcome === 'action') {
    return {
      ...base,
      outcome: input.policy === null ? 'bound_repair' : 'scaled',
      reason: input.reason,
      action: { kind: decision.kind, instance: decision.instance, attached: decision.attached },
      message: `${decision.kind === 'scale_up' ? 'scale up' : 'scale down'} ${input.service}: ${decision.instance} (${input.reason}); ${counts.active} active before`,
    };
  }
  return {
    ...base,
    outcome: 'suppressed',
    reason: decision.reason,
    action: null,
    message: decision.message,
  };
}
