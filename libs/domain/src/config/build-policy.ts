import type { ScalingPolicyConfig } from './types';
import { joinPath, type ConfigError } from './errors';
import type { PolicyEntry } from './schema';
import { UNIT_MS } from './scalars';

/** Characters a policy name cannot hold: it becomes an etcd directory (`/_dynamite/policy/<svc>/<policy>`). */
const BAD_POLICY_NAME = /[/\s]/;

/** One policy entry in its typed form: durations in milliseconds, the metric split at its first `.`. */
export function buildPolicy(name: string, entry: PolicyEntry): { policy: ScalingPolicyConfig; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  if (name.trim() === '' || BAD_POLICY_NAME.test(name)) {
    errors.push({ path: joinPath(['ScalingPolicy', name]), message: `policy name "${name}" must not be empty or contain "/" or spaces (it becomes an etcd key)` });
  }
  const serviceType = entry.service_type.trim();
  if (BAD_POLICY_NAME.test(serviceType)) {
    errors.push({ path: joinPath(['ScalingPolicy', name, 'service_type']), message: `"${serviceType}" must not contain "/" or spaces (it is an etcd directory)` });
  }
  const metric = entry.metric.trim();
  const dot = metric.indexOf('.');
  const policy: ScalingPolicyConfig = {
    name,
    serviceType,
    metric,
    metricDir: dot < 0 ? metric : metric.slice(0, dot),
    valuePath: dot < 0 ? null : metric.slice(dot + 1),
    aggregated: entry.metric_aggregated,
    operator: entry.comparative_operator,
    threshold: entry.threshold,
    thresholdUnit: entry.threshold_unit,
    periodMs: toMs(entry.period, entry.period_unit),
    cooldownMs: toMs(entry.cooldown_period, entry.cooldown_period_unit),
    staleAfterMs: toMs(entry.stale_after, entry.stale_after_unit),
  };
  return { policy, errors };
}

export function toMs(value: number, unit: keyof typeof UNIT_MS): number {
  return Math.round(value * UNIT_MS[unit]);
}
