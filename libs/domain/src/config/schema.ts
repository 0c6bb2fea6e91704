import { z } from 'zod';
import type { ComparativeOperator, TimeUnit } from './types';
import {
  boolean,
  describe,
  isMapping,
  instanceCount,
  nonNegativeNumber,
  finiteNumber,
  operator,
  optional,
  port,
  portCount,
  positiveInteger,
  positiveNumber,
  required,
  text,
  textList,
  timeUnit,
} from './scalars';
import { quote } from './names';

/**
 * The shape of each part of the `Dynamite:` body, as zod schemas. Each section and each service or policy
 * entry is parsed on its own, so that one bad entry never hides the errors of another. Cross-references
 * (policy names, attached services, port ranges) are checked afterwards, in checks.ts.
 */

/** A YAML mapping; anything else is `must be a mapping (got ...)`. Unknown keys are checked in known-keys.ts. */
function mapping<Shape extends z.ZodRawShape>(shape: Shape) {
  const object = z.looseObject(shape, { error: (issue) => `must be a mapping (got ${describe(issue.input)})` });
  // zod skips a field schema for an absent key; present-but-undefined lets every field apply its own default
  // or say "is required" in its own words.
  const withEveryKey = (input: unknown) =>
    isMapping(input) ? { ...Object.fromEntries(Object.keys(shape).map((k) => [k, undefined])), ...input } : input;
  return z.preprocess(withEveryKey, object);
}

export const serviceFilesSchema = mapping({
  PathList: optional(textList, [] as string[]),
});

/**
 * The fleet host: the engine calls `http://<ip>:<port>/fleet/v1/`, so anything that would change that URL
 * (a path, a query, credentials, spaces) is refused here rather than when the engine starts.
 */
const fleetHost = (input: unknown) => {
  const result = text(input);
  if (!('value' in result)) return result;
  const host = result.value.trim();
  if (/^[A-Za-z0-9.-]+$/.test(host) || /^\[[0-9A-Fa-f:.]+\]$/.test(host)) return { value: host };
  const hint = /^[0-9A-Fa-f:.]+$/.test(host) ? `; write an IPv6 address in brackets: "[${host}]"` : '';
  return { issues: [{ message: `must be a host name or an IP address (got ${describe(input)})${hint}` }] };
};

export const fleetEndpointSchema = mapping({
  ip: optional(fleetHost, null),
  port: optional(port, null),
}).superRefine((value, ctx) => {
  // Both or neither: an endpoint with only half of it is a typo, not a default.
  if (value.ip !== null && value.port === null) ctx.addIssue({ code: 'custom', path: ['port'], message: 'is required when ip is given' });
  if (value.port !== null && value.ip === null) ctx.addIssue({ code: 'custom', path: ['ip'], message: 'is required when port is given' });
});

/** An etcd directory: absolute, stored without its trailing `/` (`/` itself becomes the empty prefix). */
const etcdBasePath = (input: unknown) => {
  const result = text(input);
  if (!('value' in result)) return result;
  const value = result.value.trim();
  if (!value.startsWith('/')) return { issues: [{ message: `must be an absolute etcd path starting with "/" (got ${describe(input)})` }] };
  return { value: value.replace(/\/+$/, '') };
};

export const etcdSchema = mapping({
  application_base_path: optional(etcdBasePath, null),
  metrics_base_path: optional(etcdBasePath, null),
});

export const engineSchema = mapping({
  metrics_retention: optional(positiveNumber, 10),
  metrics_retention_unit: optional(timeUnit, 'minute' as TimeUnit),
  reconcile_interval: optional(positiveNumber, 10),
  reconcile_interval_unit: optional(timeUnit, 'second' as TimeUnit),
});
export type EngineEntry = z.output<typeof engineSchema>;

/** `{ScalingPolicy: <name>}`, the original's shape. */
const policyReference = (input: unknown, at: (string | number)[] = []): { value: string } | { issues: { message: string; path?: (string | number)[] }[] } => {
  if (!isMapping(input)) {
    return { issues: [{ path: at, message: `must be a mapping with the key ScalingPolicy (got ${describe(input)}); write ScalingPolicy: <policy name> under it` }] };
  }
  const name = input.ScalingPolicy;
  if (name === undefined || name === null) {
    return { issues: [{ path: [...at, 'ScalingPolicy'], message: 'is required (the name of a policy under ScalingPolicy:)' }] };
  }
  const result = text(name);
  if (!('value' in result)) return { issues: result.issues.map((i) => ({ ...i, path: [...at, 'ScalingPolicy'] })) };
  return result;
};

/**
 * `scale_up_policy` / `scale_down_policy`: the original's `{ScalingPolicy: <name>}`, or (new) a list of them, for
 * several policies one way. An empty value means no policy.
 */
const policyReferences = (input: unknown) => {
  if (!Array.isArray(input)) {
    const one = policyReference(input);
    return 'value' in one ? { value: [one.value] } : one;
  }
  const issues: { message: string; path?: (string | number)[] }[] = [];
  const names: string[] = [];
  input.forEach((item, index) => {
    const one = policyReference(item, [index]);
    if ('value' in one) names.push(one.value);
    else issues.push(...one.issues);
  });
  return issues.length > 0 ? { issues } : { value: names };
};

export const serviceSchema = mapping({
  name_of_unit_file: required(text),
  type: optional(text, null),
  min_instance: optional(instanceCount(0), null),
  max_instance: optional(instanceCount(1), null),
  base_instance_prefix_number: optional(port, null),
  ports_per_instance: optional(portCount, null),
  attached_service: optional(textList, [] as string[]),
  service_dependency: optional(textList, [] as string[]),
  scale_up_policy: optional(policyReferences, [] as string[]),
  scale_down_policy: optional(policyReferences, [] as string[]),
  scale_up_step: optional(positiveInteger, null),
  scale_down_step: optional(positiveInteger, null),
  dry_run: optional(boolean, null),
});
export type ServiceEntry = z.output<typeof serviceSchema>;

/** `metric`: a name, or the legacy `{service, name}` form (handled in `normalizeLegacyPolicy`). */
const metricName = (input: unknown) => {
  const result = text(input);
  if (!('value' in result)) return result;
  const metric = result.value.trim();
  const dot = metric.indexOf('.');
  const dir = dot < 0 ? metric : metric.slice(0, dot);
  const rest = dot < 0 ? null : metric.slice(dot + 1);
  if (dir === '') return { issues: [{ message: `must start with the metric's etcd directory name (got ${describe(input)})` }] };
  if (/[/\s]/.test(dir)) return { issues: [{ message: `the metric's directory ${quote(dir)} must not contain "/" or spaces` }] };
  if (rest === '') return { issues: [{ message: `has nothing after the "." (got ${describe(input)})` }] };
  return { value: metric };
};

export const policySchema = z.preprocess(
  normalizeLegacyPolicy,
  mapping({
    service_type: required(text),
    metric: required(metricName),
    metric_aggregated: optional(boolean, false),
    comparative_operator: required(operator),
    // Any finite number: a threshold may be zero or negative (a temperature, a delta).
    threshold: required(finiteNumber),
    threshold_unit: optional(text, null),
    period: required(positiveNumber),
    period_unit: required(timeUnit),
    cooldown_period: required(nonNegativeNumber),
    cooldown_period_unit: required(timeUnit),
    stale_after: optional(positiveNumber, 60),
    stale_after_unit: optional(timeUnit, 'second' as TimeUnit),
  }),
);
export type PolicyEntry = {
  service_type: string;
  metric: string;
  metric_aggregated: boolean;
  comparative_operator: ComparativeOperator;
  threshold: number;
  threshold_unit: string | null;
  period: number;
  period_unit: TimeUnit;
  cooldown_period: number;
  cooldown_period_unit: TimeUnit;
  stale_after: number;
  stale_after_unit: TimeUnit;
};

/** Old spellings that still mean something: `treshold_unit`, and `metric: {service, name}`. */
function normalizeLegacyPolicy(input: unknown): unknown {
  if (!isMapping(input)) return input;
  const out: Record<string, unknown> = { ...input };
  if ((out.threshold_unit === undefined || out.threshold_unit === null) && out.treshold_unit !== undefined) {
    out.threshold_unit = out.treshold_unit;
  }
  if (isMapping(out.metric)) {
    const legacy = out.metric;
    out.metric = legacy.name;
    if ((out.service_type === undefined || out.service_type === null) && legacy.service !== undefined) out.service_type = legacy.service;
  }
  return out;
}
