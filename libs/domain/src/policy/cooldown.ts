import type { ScalingPolicyConfig } from '../config/types';

/**
 * Cooldown of one (service, policy): it starts when a decision to scale is committed and, while it runs, that
 * policy fires nothing and its samples arm nothing. The end is exclusive: at `until` the cooldown is over.
 */
export function isCooldownActive(cooldownUntil: number | null, at: number): boolean {
  return cooldownUntil !== null && at < cooldownUntil;
}

/**
 * When the cooldown of a decision made at `decidedAt` ends. Pass the fire's `at` (the window's expiry), not
 * the time the job happened to run, so the cooldown does not depend on queue latency.
 */
export function cooldownEndAfter(policy: ScalingPolicyConfig, decidedAt: number): number {
  return decidedAt + policy.cooldownMs;
}
