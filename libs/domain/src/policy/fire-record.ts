import type { ScalingPolicyConfig } from '../config/types';
import { AGGREGATE_MACHINE } from '../keys/layout';
import type { ScaleDecision } from './decide';
import { describeRule, type DecisionRecord } from './decision-record';
import type { FireEffect } from './machine';

/**
 * The record of what became of a fire: `scaled` with its action, or `suppressed` with the bound that stopped
 * it. Its id is the fire's decisionId, so the record and the action key (`/_dynamite/actions/<svc>/<id>`)
 * name the same decision, and a retried job rewrites the same record.
 */
export function fireDecisionRecord(
  ref: { service: string; policy: ScalingPolicyConfig; machine: string },
  fire: FireEffect,
  decision: ScaleDecision,
  extraInputs: Record<string, unknown> = {},
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
    inputs: { ...fire.inputs, ...extraInputs },
  };
  if (decision.outcome === 'action') {
    return {
      ...base,
      outcome: 'scaled',
      reason: null,
      action: { kind: decision.kind, instance: decision.instance, attached: [...decision.attached] },
      message:
        `${why}: scaling ${ref.service} ${fire.direction}, ` +
        `${decision.kind === 'scale_up' ? 'creating' : 'removing'} ${decision.instance}`,
    };
  }
  return {
    ...base,
    outcome: 'suppressed',
    reason: decision.reason,
    action: null,
    message: `${why}, but ${decision.message}: not scaling ${fire.direction}`,
  };
}
