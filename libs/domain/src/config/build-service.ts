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
export function buildService(name: string, entry: ServiceEntry): ServiceBuild {
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
    scaleUpPolicy: entry.scale_up_policy === null ? null : entry.scale_up_policy.trim(),
    scaleDownPolicy: entry.scale_down_policy === null ? null : entry.scale_down_policy.trim(),
    dryRun: entry.dry_run ?? false,
  };
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
  if (service.scaleUpPolicy !== null && service.scaleUpPolicy === service.scaleDownPolicy) {
    errors.push({ path: at('scale_down_policy'), message: `${quote(service.scaleDownPolicy)} is also the scale_up_policy; one policy cannot scale a service both ways` });
  }
  return { service, errors, warnings };
}
