import type { DynamiteConfig, ScalingPolicyConfig } from '../config/types';
import { AGGREGATE_MACHINE } from '../keys/layout';
import { trimTrailingSlashes } from './paths';
import type { SampleKey } from './sample-key';

/**
 * Which state machines a sample feeds. A policy sees only samples of its own (service_type, metric_dir) and
 * of its own layout (aggregated or per instance); the original routed by metric name alone, so policies of
 * different service types fed each other.
 */

export interface Route {
  service: string;
  policy: string;
  /** The instance uuid for per-instance policies, `AGGREGATE_MACHINE` for aggregated ones. */
  machine: string;
  direction: 'up' | 'down';
}

/** What a sample's key says about who reads it: its layout, service type and metric directory. */
function routeKey(aggregated: boolean, serviceType: string, metricDir: string): string {
  return `${aggregated ? 'a' : 'i'}\u0000${serviceType}\u0000${metricDir}`;
}

type RouteTemplate = Omit<Route, 'machine'>;

/** Routes by route key, built once per config object: routing a sample is one map look-up at any config size. */
const routeIndexes = new WeakMap<DynamiteConfig, Map<string, RouteTemplate[]>>();

function routeIndexOf(config: DynamiteConfig): Map<string, RouteTemplate[]> {
  let index = routeIndexes.get(config);
  if (index) return index;
  index = new Map();
  const policies = new Map(config.policies.map((p) => [p.name, p]));
  for (const service of config.services) {
    const uses: ['up' | 'down', string][] = [
      ...service.scaleUpPolicies.map((p): ['up', string] => ['up', p]),
      ...service.scaleDownPolicies.map((p): ['down', string] => ['down', p]),
    ];
    for (const [direction, policyName] of uses) {
      const policy = policies.get(policyName);
      if (policy === undefined) continue;
      const key = routeKey(policy.aggregated, policy.serviceType, policy.metricDir);
      const list = index.get(key) ?? [];
      list.push({ service: service.name, policy: policy.name, direction });
      index.set(key, list);
    }
  }
  routeIndexes.set(config, index);
  return index;
}

/**
 * Every (service, policy) pair the sample belongs to, in config order (services, then up before down): the
 * policies of the sample's own (service_type, metric_dir) and layout.
 */
export function routeSample(sample: SampleKey, config: DynamiteConfig): Route[] {
  const templates = routeIndexOf(config).get(routeKey(sample.kind === 'aggregate', sample.serviceType, sample.metricDir)) ?? [];
  const machine = sample.kind === 'instance' ? sample.uuid : AGGREGATE_MACHINE;
  return templates.map((t) => ({ ...t, machine }));
}

/**
 * The etcd prefix holding the samples of one state machine: `<metrics>/<type>/<uuid>/<metric_dir>/`, or
 * `<metrics>/<type>/<metric_dir>/` for an aggregated policy (whose only machine is `AGGREGATE_MACHINE`; the
 * `machine` argument is then not used).
 */
export function machineSamplePrefix(config: DynamiteConfig, policy: ScalingPolicyConfig, machine: string): string {
  const base = trimTrailingSlashes(config.etcd.metricsBasePath);
  if (policy.aggregated) return `${base}/${policy.serviceType}/${policy.metricDir}/`;
  return `${base}/${policy.serviceType}/${machine}/${policy.metricDir}/`;
}

/**
 * The smallest set of prefixes covering every sample some service's policy reads, sorted. A per-instance
 * policy needs the whole `<metrics>/<type>/` (the uuid comes before the metric directory); an aggregated one
 * only `<metrics>/<type>/<metric_dir>/`. Prefixes end with `/` so `web` never covers `webserver`.
 * Policies that no service references are not watched.
 */
export function metricWatchPrefixes(config: DynamiteConfig): string[] {
  const base = trimTrailingSlashes(config.etcd.metricsBasePath);
  const used = new Set<string>();
  for (const service of config.services) {
    for (const name of [...service.scaleUpPolicies, ...service.scaleDownPolicies]) used.add(name);
  }
  const wanted = new Set<string>();
  for (const policy of config.policies) {
    if (!used.has(policy.name)) continue;
    wanted.add(
      policy.aggregated ? `${base}/${policy.serviceType}/${policy.metricDir}/` : `${base}/${policy.serviceType}/`,
    );
  }
  // Sorted, a prefix comes right after the one covering it (or after others it covers too): one pass keeps the
  // uncovered ones (10,000 services are 10,000 prefixes; comparing all pairs took seconds).
  const kept: string[] = [];
  for (const prefix of [...wanted].sort()) {
    const last = kept[kept.length - 1];
    if (last === undefined || !prefix.startsWith(last)) kept.push(prefix);
  }
  return kept;
}

/** Whether `key` is under one of `prefixes` (sorted, none covering another, as metricWatchPrefixes gives them). */
export function isUnderPrefixes(prefixes: string[], key: string): boolean {
  // The last prefix sorting at or before the key is the only one that can be a prefix of it.
  let low = 0;
  let high = prefixes.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (prefixes[mid]! <= key) { found = mid; low = mid + 1; } else high = mid - 1;
  }
  return found >= 0 && key.startsWith(prefixes[found]!);
}
