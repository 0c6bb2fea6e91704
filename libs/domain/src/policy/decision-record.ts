import type { ScalingPolicyConfig } from '../config/types';
import { formatDuration } from './durations';

/**
 * Decision records: the answer to "why did (or didn't) it scale?". Every evaluation that arms, disarms, fires or
 * suppresses leaves one, with the rule, the inputs it looked at and one readable sentence. Ids are
 * deterministic, so re-running a step (a retried job) writes the same records again instead of new ones.
 */

export type DecisionOutcome =
  | 'armed'
  | 'disarmed'
  | 'scaled'
  | 'dry_run'
  | 'suppressed'
  | 'bound_repair'
  | 'resync'
  | 'action_done'
  | 'action_failed'
  /** A config change the leader applied to this service (added, removed, changed, or its units pruned). */
  | 'reconfigured'
  /** A webhook could not deliver one of this service's records after all its attempts. */
  | 'notify_failed';

export type SuppressReason =
  | 'cooldown'
  | 'max_instance'
  | 'min_instance'
  | 'stale'
  | 'too_few_samples'
  | 'unknown_instance'
  | 'no_free_port'
  | 'protected'
  | 'paused'
  | 'scale_up_armed';

export interface RecordedAction {
  kind: 'scale_up' | 'scale_down';
  instance: string;
  attached: string[];
}

export interface DecisionRecord {
  id: string;
  /** Wall ms the decision is about (sample receipt or timer expiry), not when it was written. */
  at: number;
  service: string;
  policy: string | null;
  machine: string | null;
  direction: 'up' | 'down' | null;
  outcome: DecisionOutcome;
  /** The SuppressReason when suppressed; free form for other outcomes, or null. */
  reason: string | null;
  /** e.g. "cpu_user gt 80 for 30s (cooldown 60s)". */
  rule: string | null;
  /** What the decision looked at: samples, newest value/key, armedAt, expiresAt, instance counts ... */
  inputs: Record<string, unknown>;
  /** The (first) action decided; for `dry_run`, the one that would have been. */
  action: RecordedAction | null;
  /** Every action of a decision that moved more than one instance (scale_up_step / scale_down_step), in order. */
  actions?: RecordedAction[];
  /** One readable sentence: why. */
  message: string;
}

/** The policy as one line: `cpu_user gt 80 for 30s (cooldown 60s)`; the threshold unit follows the value. */
export function describeRule(policy: ScalingPolicyConfig): string {
  const unit = policy.thresholdUnit === null || policy.thresholdUnit === '' ? '' : ` ${policy.thresholdUnit}`;
  return (
    `${policy.metric} ${policy.operator} ${policy.threshold}${unit} for ${formatDuration(policy.periodMs)}` +
    ` (cooldown ${formatDuration(policy.cooldownMs)})`
  );
}
