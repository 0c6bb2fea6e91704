import type { DynamiteConfig } from '../config/types';
import { pauseApplies, describePause, isDryRun, type ServiceControls } from './controls';
import { decideScaling, requireService, type RecordedInstance, type ScaleDecision, type ScaleRequest } from './decide';
import type { SuppressReason } from './decision-record';

/**
 * What one decision (a policy's fire, or a bound repair) does to a service, with everything operators set applied:
 *   1. a pause of that direction suppresses it (`paused`);
 *   2. a scale down waits while one of the service's scale-up windows is armed, when the service has several
 *      policies (`scale_up_armed`: the safe side wins);
 *   3. `decideScaling` then picks up to `step` instances, one after the other within the bounds, never a protected
 *      one (`protected` when that is all there is);
 *   4. in a dry run (engine-wide or the service's `dry_run`) the actions are only recorded, never carried out.
 * Pure: the engine runs it on the records and controls it read once, and commits the result guarded by them.
 */

export type ScaleAction = Extract<ScaleDecision, { outcome: 'action' }>;

export type ActionDecision =
  | {
      outcome: 'action';
      /** 1..step actions, in the order they were decided. */
      actions: ScaleAction[];
      /** Recorded as `dry_run`: nothing is written for fleet. */
      dryRun: boolean;
      /** Why fewer than `step` were decided (the bound reached), or null. */
      short: { reason: SuppressReason; message: string } | null;
    }
  | { outcome: 'suppressed'; reason: SuppressReason; message: string };

export interface ActionContext {
  controls: ServiceControls;
  /** When the decision is about: the fire (window expiry), or now for a bound repair. A pause is checked then. */
  at: number;
  /** The most instances to move (scale_up_step / scale_down_step, or what a bound needs); default 1. */
  step?: number;
  /** For a scale down: the service's scale-up policies with an armed window, when the safe side applies. */
  armedUpPolicies?: string[];
}

export function decideAction(
  config: DynamiteConfig,
  service: string,
  instances: RecordedInstance[],
  request: ScaleRequest,
  ctx: ActionContext,
): ActionDecision {
  const svc = requireService(config, service);
  const { pause } = ctx.controls;
  if (pause !== null && pauseApplies(pause, request.direction, ctx.at)) {
    return { outcome: 'suppressed', reason: 'paused', message: `${service} is ${describePause(pause)}` };
  }
  const armed = ctx.armedUpPolicies ?? [];
  if (request.direction === 'down' && armed.length > 0) {
    const which = armed.length === 1 ? `scale-up policy ${armed[0]} is` : `scale-up policies ${armed.join(', ')} are`;
    return { outcome: 'suppressed', reason: 'scale_up_armed', message: `${which} armed for ${service}: the safe side wins, no scale down` };
  }
  const actions: ScaleAction[] = [];
  let list = instances;
  let short: { reason: SuppressReason; message: string } | null = null;
  const step = Math.max(1, ctx.step ?? 1);
  for (let k = 0; k < step; k += 1) {
    // The instance a metric named goes first; further ones of the same step are the newest.
    const next: ScaleRequest = k === 0 || request.direction === 'up' ? request : { direction: 'down', target: { kind: 'newest' } };
    const decided = decideScaling(config, service, list, next, ctx.controls.protectedInstances);
    if (decided.outcome !== 'action') {
      short = { reason: decided.reason, message: decided.message };
      break;
    }
    actions.push(decided);
    list = applied(list, decided);
  }
  if (actions.length === 0) return { outcome: 'suppressed', reason: short!.reason, message: short!.message };
  return { outcome: 'action', actions, dryRun: isDryRun(svc, ctx.controls), short };
}

/** The instances after an action decided in the same step: a creation counts at once, a removal is on its way. */
function applied(instances: RecordedInstance[], action: ScaleAction): RecordedInstance[] {
  if (action.kind === 'scale_down') return instances.map((i) => (i.name === action.instance ? { ...i, state: 'destroying' } : i));
  return [...instances, { name: action.instance, port: action.port, state: 'creating', createdAt: Number.MAX_SAFE_INTEGER, decisionId: null, attached: action.attached }];
}
