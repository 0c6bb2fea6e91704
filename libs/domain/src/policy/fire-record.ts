import type { ScalingPolicyConfig } from '../config/types';
import { AGGREGATE_MACHINE } from '../keys/layout';
import type { InstanceCounts, ScaleDecision } from './decide';
import { describeRule, type DecisionRecord } from './decision-record';
import type { FireEffect } from './machine';

/**
 * The records of scaling decisions: what became of a fire, and what a bound repair (min/max) decided. Both are
 * `scaled`/`bound_repair` with the action, or `suppressed` with the bound that stopped them. The id is the
 * decision id, so the record and the action key (`/_dynamite/actions/<svc>/<id>`) name the same decision, and a
 * retried job rewrites the same record.
 */

function actionSentence(decision: Extract<ScaleDecision, { outcome: 'action' }>): string {
  return `${decision.kind === 'scale_up' ? 'creating' : 'removing'} ${decision.instance}`;
}

/** What became of a fire. Dated at the fire (the window's expiry), whenever the job ran. */
export function fireDecisionRecord(
  ref: { service: string; policy: ScalingPolicyConfig; machine: string },
  fire: FireEffect,
  decision: ScaleDecision,
  before: InstanceCounts,
): DecisionRecord {
  const { policy } = ref;
  const samples = fire.inputs['samples'];
  const newest = fire.inputs['newestValue'];
  const source = ref.machine === AGGREGATE_MACHINE ? `the aggregated metric of ${policy.serviceType}` : `instance ${ref.machine}`;
  const why =
    `${policy.metric} stayed ${policy.operator === 'gt' ? 'above' : 'below'} ${policy.threshold} on ${source} ` +
    `(${samples} samples, newest ${newest})`;
  const base = {
    id: fire.decisionId,
    at: fire.at,
    service: ref.service,
    policy: policy.name,
    machine: ref.machine,
    direction: fire.direction,
    rule: describeRule(policy),
    inputs: { ...fire.inputs, instancesBefore: before },
  };
  if (decision.outcome === 'action') {
    return {
      ...base,
      outcome: 'scaled',
      reason: policy.name,
      action: { kind: decision.kind, instance: decision.instance, attached: [...decision.attached] },
      message: `${why}: scaling ${ref.service} ${fire.direction}, ${actionSentence(decision)}; ${before.active} active before`,
    };
  }
  return { ...base, outcome: 'suppressed', reason: decision.reason, action: null, message: `${why}, but ${decision.message}: not scaling ${fire.direction}` };
}

/** What a bound repair decided: keep `service` within min_instance (scale up) or max_instance (scale down). */
export function boundRepairRecord(
  ref: { service: string; decisionId: string; at: number; bound: 'min_instance' | 'max_instance'; limit: number },
  decision: ScaleDecision,
  before: InstanceCounts,
  inputs: Record<string, unknown>,
): DecisionRecord {
  const direction = ref.bound === 'min_instance' ? 'up' : 'down';
  const base = {
    id: ref.decisionId,
    at: ref.at,
    service: ref.service,
    policy: null,
    machine: null,
    direction,
    rule: ref.bound === 'min_instance' ? `keep at least ${ref.limit} instance(s)` : `keep at most ${ref.limit} instance(s)`,
    inputs: { ...inputs, instancesBefore: before },
  } as const;
  const why = `${ref.service} has ${before.active} active instance(s), ${ref.bound === 'min_instance' ? 'fewer than min_instance' : 'more than max_instance'} ${ref.limit}`;
  if (decision.outcome === 'action') {
    return { ...base, outcome: 'bound_repair', reason: ref.bound, action: { kind: decision.kind, instance: decision.instance, attached: [...decision.attached] }, message: `${why}: ${actionSentence(decision)}` };
  }
  return { ...base, outcome: 'suppressed', reason: decision.reason, action: null, message: `${why}, but ${decision.message}` };
}
