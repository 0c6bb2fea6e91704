/**
 * The typed, validated form of a Dynamite configuration.
 * Produced by `parseConfig` (config/parse-config.ts) from the original YAML format; every app reads only this.
 * Field comments name the YAML key each field comes from.
 */

export type TimeUnit = 'second' | 'minute' | 'hour';
export type ComparativeOperator = 'lt' | 'gt';

export interface ScalingPolicyConfig {
  /** The key under `ScalingPolicy:`. */
  name: string;
  /** `service_type`: the etcd service type the metrics are read from. */
  serviceType: string;
  /** `metric`, as written (e.g. `response_time.time_backend_response.p95`). */
  metric: string;
  /** The part of `metric` before its first `.`: the etcd directory of the samples. */
  metricDir: string;
  /** The part of `metric` after its first `.` (looked up in JSON values), or null for plain numbers. */
  valuePath: string | null;
  /** `metric_aggregated` (default false). */
  aggregated: boolean;
  /** `comparative_operator`. */
  operator: ComparativeOperator;
  /** `threshold`. */
  threshold: number;
  /** `threshold_unit` (documentation only). */
  thresholdUnit: string | null;
  /** `period` x `period_unit`, in milliseconds. */
  periodMs: number;
  /** `cooldown_period` x `cooldown_period_unit`, in milliseconds. */
  cooldownMs: number;
  /** `stale_after` x `stale_after_unit` (new; default 60 s), in milliseconds. */
  staleAfterMs: number;
}

export interface ServiceConfig {
  /** The key under `Service:`; also the instance name prefix (`<name>@<port>.service`). */
  name: string;
  /** `name_of_unit_file`, e.g. `apache@.service` or `loadbalancer.service`. */
  unitFile: string;
  /** True when `unitFile` is a template (`x@.service`). */
  isTemplate: boolean;
  /** `type` (free form), or null. */
  type: string | null;
  /** True when `type` is `attached_service`: created and destroyed only with a parent. */
  isAttached: boolean;
  /** `min_instance` (default 1; 0 for attached services, which are never started on their own). */
  minInstance: number;
  /** `max_instance` (required for template services; always 1 for non-template services). */
  maxInstance: number;
  /** `base_instance_prefix_number`: the first port of template services, or null. */
  basePort: number | null;
  /** `ports_per_instance` (default 1). */
  portsPerInstance: number;
  /** `attached_service`: keys of services created and destroyed with each instance. */
  attachedServices: string[];
  /** `service_dependency` (accepted, has no effect, as in the original). */
  serviceDependency: string[];
  /**
   * `scale_up_policy`: `{ScalingPolicy: <name>}` (the original's one policy) or, new, a list of them; empty when none.
   * Any of them may add instances.
   */
  scaleUpPolicies: string[];
  /** `scale_down_policy`, the same way. With several policies a scale down waits while a scale-up window is armed. */
  scaleDownPolicies: string[];
  /** `scale_up_step` (new; default 1): the most instances one scale-up decision adds, within max_instance. */
  scaleUpStep: number;
  /** `scale_down_step` (new; default 1): the most instances one scale-down decision removes, within min_instance. */
  scaleDownStep: number;
  /** `dry_run` (new; default false): decisions are evaluated and recorded as `dry_run`, nothing reaches fleet. */
  dryRun: boolean;
}

export interface EngineSettings {
  /** Samples older than this are deleted by the sample-gc job (default 10 minutes). */
  metricsRetentionMs: number;
  /** How often the engine reconciles recorded instances with fleet (default 10 s). */
  reconcileIntervalMs: number;
}

/** What a webhook is told about: fires and bound repairs, fleet action ends, config changes (docs/notifications.md). */
export type NotificationEvent = 'decision' | 'action' | 'config';

export interface WebhookConfig {
  /** The key under `Notifications.webhooks`. */
  name: string;
  /** `url`: http or https. */
  url: string;
  /** `secret`: the HMAC key as written, or null when `secret_env` names an environment variable holding it. */
  secret: string | null;
  /** `secret_env`: the worker's environment variable holding the HMAC key, or null. */
  secretEnv: string | null;
  /** `events` (default: all). */
  events: NotificationEvent[];
  /** `services`: only these services' records, or null for every service. */
  services: string[] | null;
  /** `timeout` x `timeout_unit` (default 5 s), in milliseconds. */
  timeoutMs: number;
}

export interface NotificationsConfig {
  /** `Notifications.webhooks`, in file order (empty when the section is absent). */
  webhooks: WebhookConfig[];
}

export interface ConfigWarning {
  /** Dotted path of the key below the `Dynamite:` root (as in ConfigError), e.g. `ETCD.ip_api_endpoint`. */
  path: string;
  message: string;
}

export interface DynamiteConfig {
  /** `ServiceFiles.PathList` (may be empty; CLI `--service_folder` values are added by the loader). */
  serviceFolders: string[];
  /** `FleetAPIEndpoint.{ip,port}`, or null when absent. */
  fleetEndpoint: { ip: string; port: number } | null;
  /** `ETCD.application_base_path` / `ETCD.metrics_base_path` (no trailing slash). */
  etcd: { applicationBasePath: string; metricsBasePath: string };
  /** `Service`, in file order. */
  services: ServiceConfig[];
  /** `ScalingPolicy`, in file order. */
  policies: ScalingPolicyConfig[];
  engine: EngineSettings;
  /** `Notifications` (new, optional). */
  notifications: NotificationsConfig;
  /** Keys that were accepted but do nothing. */
  warnings: ConfigWarning[];
  /** The YAML document as parsed (with its `Dynamite:` root), stored as JSON in etcd like the original. */
  raw: unknown;
}
