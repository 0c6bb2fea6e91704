import type { ConfigWarning } from './types';
import type { ConfigError } from './errors';
import { joinPath } from './errors';
import { didYouMean } from './suggest';
import { isMapping } from './scalars';

/**
 * Every key the config may hold, level by level: the keys the original read, the new optional ones, and the
 * legacy ones old configs still carry (accepted with a warning, since they do nothing). Any other key is an
 * error that suggests the closest known key, so a typo never silently turns into a default.
 */

export const SECTION_KEYS = ['ServiceFiles', 'FleetAPIEndpoint', 'ETCD', 'Service', 'ScalingPolicy', 'Engine', 'Notifications'] as const;

const SERVICE_FILES_KEYS = ['PathList'];
const FLEET_KEYS = ['ip', 'port'];
const ETCD_KEYS = ['application_base_path', 'metrics_base_path'];
const ENGINE_KEYS = ['metrics_retention', 'metrics_retention_unit', 'reconcile_interval', 'reconcile_interval_unit'];
export const SERVICE_KEYS = [
  'name_of_unit_file',
  'type',
  'min_instance',
  'max_instance',
  'base_instance_prefix_number',
  'ports_per_instance',
  'attached_service',
  'service_dependency',
  'scale_up_policy',
  'scale_down_policy',
  'scale_up_step',
  'scale_down_step',
  'dry_run',
];
const POLICY_REF_KEYS = ['ScalingPolicy'];
const NOTIFICATIONS_KEYS = ['webhooks'];
const WEBHOOK_KEYS = ['url', 'secret', 'secret_env', 'events', 'services', 'timeout', 'timeout_unit'];
export const POLICY_KEYS = [
  'service_type',
  'metric',
  'metric_aggregated',
  'comparative_operator',
  'threshold',
  'threshold_unit',
  'period',
  'period_unit',
  'cooldown_period',
  'cooldown_period_unit',
  'stale_after',
  'stale_after_unit',
];

/** Legacy keys: accepted, never read (as in the original), each with the warning it gets. */
const LEGACY_ROOT: Record<string, string> = {
  UnitFiles: 'legacy key, ignored; unit file folders are listed under ServiceFiles.PathList',
};
const LEGACY_FLEET: Record<string, string> = {
  IP: 'legacy spelling, ignored; the original read only "ip"',
  Port: 'legacy spelling, ignored; the original read only "port"',
};
const LEGACY_ETCD: Record<string, string> = {
  ip_api_endpoint: 'ignored; the etcd endpoint is given with --etcd_endpoint',
  port_api_endpoint: 'ignored; the etcd endpoint is given with --etcd_endpoint',
  etcd_path: 'legacy key, ignored',
};
const LEGACY_SERVICE: Record<string, string> = {
  unit_is_template: 'legacy key, ignored; a service is a template when name_of_unit_file contains "@"',
  etcd_path: 'legacy key, ignored',
  service_announcer: 'legacy key, ignored; announcers are listed under attached_service',
};
const LEGACY_POLICY: Record<string, string> = {
  treshold_unit: 'legacy misspelling of threshold_unit (documentation only); rename it to threshold_unit',
  etcd_path: 'legacy key, ignored',
};

export interface KeyReport {
  errors: ConfigError[];
  warnings: ConfigWarning[];
}

/** Checks the keys at every level of the `Dynamite:` body. Type errors of values are left to the schemas. */
export function checkKeys(body: Record<string, unknown>, opts: { rootless?: boolean } = {}): KeyReport {
  const report: KeyReport = { errors: [], warnings: [] };
  // Without a `Dynamite:` root, a misspelt root (`dynamite:`) shows up here: suggest it too.
  checkLevel(report, body, [], [...SECTION_KEYS], LEGACY_ROOT, opts.rootless ? ['Dynamite'] : []);

  const section = (name: string) => (isMapping(body[name]) ? (body[name] as Record<string, unknown>) : null);
  const files = section('ServiceFiles');
  if (files) checkLevel(report, files, ['ServiceFiles'], SERVICE_FILES_KEYS, {});
  const fleet = section('FleetAPIEndpoint');
  if (fleet) checkLevel(report, fleet, ['FleetAPIEndpoint'], FLEET_KEYS, LEGACY_FLEET);
  const etcd = section('ETCD');
  if (etcd) checkLevel(report, etcd, ['ETCD'], ETCD_KEYS, LEGACY_ETCD);
  const engine = section('Engine');
  if (engine) checkLevel(report, engine, ['Engine'], ENGINE_KEYS, {});
  const notifications = section('Notifications');
  if (notifications) {
    checkLevel(report, notifications, ['Notifications'], NOTIFICATIONS_KEYS, {});
    const hooks = isMapping(notifications.webhooks) ? notifications.webhooks : {};
    for (const [name, hook] of Object.entries(hooks)) {
      if (isMapping(hook)) checkLevel(report, hook, ['Notifications', 'webhooks', name], WEBHOOK_KEYS, {});
    }
  }

  for (const [name, service] of Object.entries(section('Service') ?? {})) {
    if (!isMapping(service)) continue;
    const path = ['Service', name];
    checkLevel(report, service, path, SERVICE_KEYS, LEGACY_SERVICE);
    for (const ref of ['scale_up_policy', 'scale_down_policy']) {
      const value = service[ref];
      if (isMapping(value)) checkLevel(report, value, [...path, ref], POLICY_REF_KEYS, {});
      if (Array.isArray(value)) value.forEach((item, i) => { if (isMapping(item)) checkLevel(report, item, [...path, ref, i], POLICY_REF_KEYS, {}); });
    }
    if (service.service_dependency !== undefined && service.service_dependency !== null) {
      report.warnings.push({
        path: joinPath([...path, 'service_dependency']),
        message: 'has no effect (as in the original): services are not started in dependency order',
      });
    }
  }

  for (const [name, policy] of Object.entries(section('ScalingPolicy') ?? {})) {
    if (!isMapping(policy)) continue;
    checkLevel(report, policy, ['ScalingPolicy', name], POLICY_KEYS, LEGACY_POLICY);
    if (isMapping(policy.metric)) {
      checkLevel(report, policy.metric, ['ScalingPolicy', name, 'metric'], ['name', 'service'], {});
      report.warnings.push({
        path: joinPath(['ScalingPolicy', name, 'metric']),
        message: 'legacy form {service, name}; write metric: <name> and service_type: <service> instead',
      });
    }
  }
  return report;
}

function checkLevel(
  report: KeyReport,
  value: Record<string, unknown>,
  path: (string | number)[],
  known: string[],
  legacy: Record<string, string>,
  alsoSuggest: string[] = [],
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const legacyWarning = legacy[key];
    if (legacyWarning !== undefined) {
      report.warnings.push({ path: joinPath([...path, key]), message: legacyWarning });
      continue;
    }
    report.errors.push({ path: joinPath([...path, key]), message: `unknown key${didYouMean(key, [...known, ...alsoSuggest])}` });
  }
}
