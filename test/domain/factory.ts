import type { DynamiteConfig, ScalingPolicyConfig, ServiceConfig } from '@dynamite/domain';

/**
 * Small builders of typed configs for the domain tests (no YAML parser involved). Defaults follow the original:
 * min_instance 1, ports_per_instance 1, stale_after 60 s.
 */

export function policy(name: string, over: Partial<ScalingPolicyConfig> = {}): ScalingPolicyConfig {
  const metric = over.metric ?? 'cpu_user';
  const dot = metric.indexOf('.');
  return {
    name,
    serviceType: 'webserver',
    metric,
    metricDir: dot === -1 ? metric : metric.slice(0, dot),
    valuePath: dot === -1 ? null : metric.slice(dot + 1),
    aggregated: false,
    operator: 'gt',
    threshold: 80,
    thresholdUnit: null,
    periodMs: 30_000,
    cooldownMs: 60_000,
    staleAfterMs: 60_000,
    ...over,
  };
}

export function service(name: string, over: Partial<ServiceConfig> = {}): ServiceConfig {
  const unitFile = over.unitFile ?? `${name}@.service`;
  const isTemplate = unitFile.includes('@');
  const isAttached = over.isAttached ?? over.type === 'attached_service';
  return {
    name,
    unitFile,
    isTemplate,
    type: isAttached ? 'attached_service' : null,
    isAttached,
    minInstance: isAttached ? 0 : 1,
    maxInstance: isTemplate ? 5 : 1,
    basePort: isTemplate ? 8080 : null,
    portsPerInstance: 1,
    attachedServices: [],
    serviceDependency: [],
    scaleUpPolicies: [],
    scaleDownPolicies: [],
    scaleUpStep: 1,
    scaleDownStep: 1,
    dryRun: false,
    ...over,
  };
}

export function config(
  services: ServiceConfig[],
  policies: ScalingPolicyConfig[] = [],
  etcd: Partial<DynamiteConfig['etcd']> = {},
): DynamiteConfig {
  return {
    serviceFolders: [],
    fleetEndpoint: null,
    etcd: { applicationBasePath: '/services', metricsBasePath: '/metrics', ...etcd },
    services,
    policies,
    engine: { metricsRetentionMs: 600_000, reconcileIntervalMs: 10_000 },
    notifications: { webhooks: [] },
    warnings: [],
    raw: {},
  };
}

/** `2015-07-28T13:15:50.631Z` style key segment for an epoch ms. */
export function tsKey(ms: number): string {
  return new Date(ms).toISOString();
}

/** Epoch ms of an ISO string (test input is always well formed). */
export function at(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad test timestamp ${iso}`);
  return ms;
}

/** A deterministic PRNG (mulberry32) for property-style tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
