import type { ConfigWarning, ServiceConfig } from './types';
import { joinPath, type ConfigError } from './errors';
import type { ServiceEntry } from './schema';
import { formatRange, portRange } from './port-ranges';
import { validateUnitName } from '@dynamite/unit-files';
import { nameProblem, quote } from './names';

/** The `type` that makes a service an attached one (created and destroyed only with a parent instance). */
export const ATTACHED_TYPE = 'attached_service';

/** A template unit file: `<prefix>@.<suffix>`, e.g. `apache@.service`. */
const TEMPLATE_UNIT = /^[^@/\s]+@\.[^@/\s]+$/;

export interface ServiceBuild {
  service: ServiceConfig;
  errors: ConfigError[];
  warnings: ConfigWarning[];
}

/** One service entry with its defaults filled in, and what is wrong with it on its own. */
export function buildService(name: string, entry: ServiceEntry, raw?: Record<string, unknown>): ServiceBuild {
  const errors: ConfigError[] = [];
  const warnings: ConfigWarning[] = [];
  const at = (key?: string) => joinPath(key === undefined ? ['Service', name] : ['Service', name, key]);

  // Instances are named after the service key (`<key>@<port>.service`), and it is an etcd directory and a URL
  // segment: a name that passes here always makes a valid fleet unit name.
  const problem = nameProblem(name);
  if (problem !== null) {
    errors.push({ path: at(), message: `service name ${quote(name)} ${problem} (it becomes unit names, etcd keys and URLs)` });
  }

  const unitFile = entry.name_of_unit_file.trim();
  const isTemplate = unitFile.includes('@');
  const unitNameProblem = validateUnitName(unitFile);
  if (isTemplate && !TEMPLATE_UNIT.test(unitFile)) {
    const example = problem === null ? `${name}@.service` : 'web@.service';
    errors.push({ path: at('name_of_unit_file'), message: `${quote(unitFile)} is not a template unit file name; a template looks like ${quote(example)}` });
  } else if (unitNameProblem !== null) {
    errors.push({ path: at('name_of_unit_file'), message: `${quote(unitFile)} is not a valid fleet unit name: ${unitNameProblem}` });
  }

  const type = entry.type === null ? null : entry.type.trim();
  const isAttached = type === ATTACHED_TYPE;
  const portsPerInstance = entry.ports_per_instance ?? 1;
  let minInstance = entry.min_instance ?? (isAttached ? 0 : 1);
  let maxInstance = 1;
  let basePort = entry.base_instance_prefix_number;

  if (isAttached) {
    // An attached service follows its parent: its own counts and ports have no effect.
    for (const key of ['min_instance', 'max_instance', 'base_instance_prefix_number', 'ports_per_instance'] as const) {
      if (entry[key] !== null) warnings.push({ path: at(key), message: 'has no effect on an attached service (it follows the instances of its parent)' });
    }
    minInstance = 0;
    maxInstance = 0; // filled in from its parents by the cross checks
    basePort = null;
  } else if (isTemplate) {
    if (entry.max_instance === null) {
      errors.push({ path: at('max_instance'), message: `is required for a template service (${unitFile})` });
    } else {
      maxInstance = entry.max_instance;
    }
    if (entry.base_instance_prefix_number === null) {
      errors.push({ path: at('base_instance_prefix_number'), message: `is required for a template service (${unitFile}): the first port` });
    }
    if (entry.max_instance !== null && minInstance > entry.max_instance) {
      errors.push({ path: at('min_instance'), message: `must not exceed max_instance (${minInstance} > ${entry.max_instance})` });
    }
  } else {
    if (minInstance > 1) {
      errors.push({ path: at('min_instance'), message: `a non-template service (${unitFile}) runs at most one instance (got ${minInstance})` });
    }
    if (entry.max_instance !== null && entry.max_instance > 1) {
      warnings.push({ path: at('max_instance'), message: `ignored: a non-template service (${unitFile}) runs at most one instance` });
    }
    for (const key of ['base_instance_prefix_number', 'ports_per_instance'] as const) {
      if (entry[key] !== null) warnings.push({ path: at(key), message: `has no effect on a non-template service (${unitFile})` });
    }
    basePort = null;
  }

  const service: ServiceConfig = {
    name,
    unitFile,
    isTemplate,
    type,
    isAttached,
    minInstance,
    maxInstance,
    basePort,
    portsPerInstance: isTemplate && !isAttached ? portsPerInstance : 1,
    attachedServices: entry.attached_service.map((s) => s.trim()),
    serviceDependency: entry.service_dependency,
    scaleUpPolicies: entry.scale_up_policy.map((p) => p.trim()),
    scaleDownPolicies: entry.scale_down_policy.map((p) => p.trim()),
    scaleUpStep: entry.scale_up_step ?? 1,
    scaleDownStep: entry.scale_down_step ?? 1,
    dryRun: entry.dry_run ?? false,
  };
  for (const key of ['scale_up_step', 'scale_down_step'] as const) {
    if (entry[key] !== null && entry[key] > 65_535) errors.push({ path: at(key), message: `must be at most 65535 (got ${entry[key]})` });
  }
  if (isAttached) {
    for (const key of ['scale_up_step', 'scale_down_step'] as const) {
      if (entry[key] !== null) warnings.push({ path: at(key), message: 'has no effect on an attached service (it follows the instances of its parent)' });
    }
  }
  if (isAttached && entry.dry_run !== null) {
    warnings.push({ path: at('dry_run'), message: 'has no effect on an attached service (it follows the instances of its parent)' });
  }

  const range = portRange(service);
  if (range && range.last > 65535) {
    errors.push({
      path: at('base_instance_prefix_number'),
      message: `${formatRange(range)} (max_instance ${maxInstance} x ports_per_instance ${service.portsPerInstance}) go past port 65535`,
    });
  }
  // One list form or the other, each policy once, and never both ways.
  const listed = (key: 'scale_up_policy' | 'scale_down_policy', index: number) => joinPath(Array.isArray(raw?.[key]) ? ['Service', name, key, index] : ['Service', name, key]);
  for (const [key, names] of [['scale_up_policy', service.scaleUpPolicies], ['scale_down_policy', service.scaleDownPolicies]] as const) {
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index) errors.push({ path: listed(key, index), message: `${quote(name)} is listed twice` });
    });
  }
  service.scaleDownPolicies.forEach((name, index) => {
    if (service.scaleUpPolicies.includes(name)) {
      const which = service.scaleUpPolicies.length === 1 ? 'the scale_up_policy' : 'a scale_up_policy';
      errors.push({ path: listed('scale_down_policy', index), message: `${quote(name)} is also ${which}; one policy cannot scale a service both ways` });
    }
  });
  return { service, errors, warnings };
}
