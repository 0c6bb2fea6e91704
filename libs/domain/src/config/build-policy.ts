import type { ScalingPolicyConfig } from './types';
import { joinPath, type ConfigError } from './errors';
import type { PolicyEntry } from './schema';
import { durationMs } from './durations';
import { nameProblem, quote } from './names';

/** Characters a service type cannot hold: it is an etcd directory of the sample keys. */
const BAD_SERVICE_TYPE = /[/\s]/;

/** One policy entry in its typed form: durations in milliseconds, the metric split at its first `.`. */
export function buildPolicy(name: string, entry: PolicyEntry): { policy: ScalingPolicyConfig; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const at = (key?: string) => joinPath(key === undefined ? ['ScalingPolicy', name] : ['ScalingPolicy', name, key]);
  const problem = nameProblem(name, { allowAt: true });
  if (problem !== null) {
    errors.push({ path: at(), message: `policy name ${quote(name)} ${problem} (it becomes etcd keys and URLs)` });
  }
  const serviceType = entry.service_type.trim();
  if (BAD_SERVICE_TYPE.test(serviceType)) {
    errors.push({ path: at('service_type'), message: `${quote(serviceType)} must not contain "/" or spaces (it is an etcd directory)` });
  }
  // Each duration in whole milliseconds, in range; a bad one is reported at its amount's key.
  const duration = (key: 'period' | 'cooldown_period' | 'stale_after', rule: { minMs: number; zeroAllowed?: boolean }): number => {
    const result = durationMs(entry[key], entry[`${key}_unit`], rule);
    if ('ms' in result) return result.ms;
    errors.push({ path: at(key), message: result.error });
    return 0;
  };
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
    periodMs: duration('period', { minMs: 1 }),
    cooldownMs: duration('cooldown_period', { minMs: 1, zeroAllowed: true }),
    staleAfterMs: duration('stale_after', { minMs: 1 }),
  };
  return { policy, errors };
}
