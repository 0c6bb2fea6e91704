import type { ScalingPolicyConfig } from '../config/types';
import { AGGREGATE_MACHINE } from '../keys/layout';
import type { ActionDecision, ScaleAction } from './action-decision';
import type { InstanceCounts } from './decide';
import { describeRule, type DecisionRecord, type RecordedAction } from './decision-record';
import type { FireEffect } from './machine';

/**
 * The records of scaling decisions: what became of a fire, and what a bound repair (min/max) decided. Both are
 * `scaled`/`bound_repair` with the action(s), `dry_run` with the action(s) that would have been, or `suppressed`
 * with what stopped them (a bound, a pause, protection). The id is the decision id, so the record and the action
 * key (`/_dynamite/actions/<svc>/<id>`) name the same decision, and a retried job rewrites the same record.
 */

/** `creating web@8081.service`, `removing web@8083.service and web@8082.service`. */
function actionSentence(actions: ScaleAction[]): string {
  const names = actions.map((a) => a.instance);
  const list = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]!}`;
  return `${actions[0]!.kind === 'scale_up' ? 'creating' : 'removing'} ${list}`;
}

function recordedActions(actions: ScaleAction[]): { action: RecordedAction; actions?: RecordedAction[] } {
  const all = actions.map((a) => ({ kind: a.kind, instance: a.instance, attached: [...a.attached] }));
  return all.length > 1 ? { action: all[0]!, actions: all } : { action: all[0]! };
}

/** `, 2 of a step of 3: web has 4 of max 4 instances` when a step was cut short by a bound. */
function shortSentence(decision: Extract<ActionDecision, { outcome: 'action' }>, step: number): string {
  if (decision.short === null || step <= 1) return '';
  return ` (${decision.actions.length} of a step of ${step}: ${decision.short.message})`;
}

/** What became of a fire. Dated at the fire (the window's expiry), whenever the job ran. */
export function fireDecisionRecord(
  ref: { service: string; policy: ScalingPolicyConfig; machine: string; step?: number },
  fire: FireEffect,
  decision: ActionDecision,
  before: InstanceCounts,
): DecisionRecord {
  const { policy } = ref;
  const samples = fire.inputs['samples'];
  const newest = fire.inputs['newestValue'];
  const source = ref.machine === AGGREGATE_MACHINE ? `the aggregated metric of ${policy.serviceType}` : `instance ${ref.machine}`;
  const why =
    `${policy.metric} stayed ${policy.operator === 'gt' ? 'above' : 'below'} ${policy.threshold} on ${source} ` +
    `(${samples} samples, newest ${newest})`;
  const step = ref.step ?? 1;
  const base = {
    id: fire.decisionId,
    at: fire.at,
    service: ref.service,
    policy: policy.name,
    machine: ref.machine,
    direction: fire.direction,
    rule: describeRule(policy),
    inputs: { ...fire.inputs, instancesBefore: before, ...(step > 1 ? { step } : {}) },
  };
  if (decision.outcome === 'action') {
    const sentence = `${actionSentence(decision.actions)}${shortSentence(decision, step)}`;
    if (decision.dryRun) {
      return {
        ...base,
        inputs: { ...base.inputs, dryRun: true },
        outcome: 'dry_run',
        reason: policy.name,
        ...recordedActions(decision.actions),
        message: `${why}: dry run, would scale ${ref.service} ${fire.direction}, ${sentence}; ${before.active} active, nothing done`,
      };
    }
    return {
      ...base,
      outcome: 'scaled',
      reason: policy.name,
      ...recordedActions(decision.actions),
      message: `${why}: scaling ${ref.service} ${fire.direction}, ${sentence}; ${before.active} active before`,
    };
  }
  return { ...base, outcome: 'suppressed', reason: decision.reason, action: null, message: `${why}, but ${decision.message}: not scaling ${fire.direction}` };
}

/** What a bound repair decided: keep `service` within min_instance (scale up) or max_instance (scale down). */
export function boundRepairRecord(
  ref: { service: string; decisionId: string; at: number; bound: 'min_instance' | 'max_instance'; limit: number },
  decision: ActionDecision,
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
    if (decision.dryRun) {
      return { ...base, inputs: { ...base.inputs, dryRun: true }, outcome: 'dry_run', reason: ref.bound, ...recordedActions(decision.actions), message: `${why}: dry run, would be ${actionSentence(decision.actions)}; nothing done` };
    }
    return { ...base, outcome: 'bound_repair', reason: ref.bound, ...recordedActions(decision.actions), message: `${why}: ${actionSentence(decision.actions)}` };
  }
  return { ...base, outcome: 'suppressed', reason: decision.reason, action: null, message: `${why}, but ${decision.message}` };
}
