import type { DynamiteConfig, ServiceConfig } from '../config/types';
import { findService } from '../config/policy-usage';
import { attachedInstanceName } from './naming';
import { portRangeOf } from './ports';

/**
 * Which unit names are instances of a service. The engine creates, launches and destroys units by name, and names
 * it reads back from etcd (instance records, actions) may have been written by anyone with access to etcd: a name
 * is acted on only when it is one this service would have given. The same rule serves the config (adoption of
 * fleet units) and a service's template record in etcd (what the workers know of the service).
 */
export interface InstanceNaming {
  /** The service key: the prefix of its template instances (`<service>@<port>.service`). */
  service: string;
  isTemplate: boolean;
  /** The unit file: the only instance name of a non-template service. */
  unitFile: string;
  basePort: number | null;
  maxInstance: number;
  portsPerInstance: number;
  /** The attached services, created and destroyed with each instance. */
  attached: { name: string; isTemplate: boolean; unitFile: string }[];
}

export type InstanceMatch =
  | { ok: true; port: number | null; inRange: boolean }
  | { ok: false; problem: string };

const TEMPLATE_INSTANCE = /^(.+)@(\d{1,5})\.service$/;

export function namingOfService(config: DynamiteConfig, service: ServiceConfig): InstanceNaming {
  return {
    service: service.name,
    isTemplate: service.isTemplate,
    unitFile: service.unitFile,
    basePort: service.basePort,
    maxInstance: service.maxInstance,
    portsPerInstance: service.portsPerInstance,
    attached: service.attachedServices.flatMap((key) => {
      const attached = findService(config, key);
      return attached ? [{ name: attached.name, isTemplate: attached.isTemplate, unitFile: attached.unitFile }] : [];
    }),
  };
}

/**
 * Whether `name` is an instance of the service: `<service>@<port>.service` with the port written as we write it
 * (no sign, no leading zero), or the unit file of a non-template service. `inRange` tells whether the port is one
 * of the service's slots: only such an instance may be launched; one outside (left by a lowered max_instance) may
 * still be counted and destroyed.
 */
export function matchInstanceName(naming: InstanceNaming, name: string): InstanceMatch {
  if (!naming.isTemplate) {
    return name === naming.unitFile
      ? { ok: true, port: null, inRange: true }
      : { ok: false, problem: `"${name}" is not an instance of ${naming.service} (its only instance is ${naming.unitFile})` };
  }
  const match = TEMPLATE_INSTANCE.exec(name);
  const digits = match?.[2];
  if (!match || match[1] !== naming.service || digits === undefined || String(Number(digits)) !== digits) {
    return { ok: false, problem: `"${name}" is not an instance of ${naming.service} (expected ${naming.service}@<port>.service)` };
  }
  const port = Number(digits);
  const range = portRangeOf(naming);
  return { ok: true, port, inRange: range !== null && port >= range.first && port <= range.last };
}

/**
 * Why the engine may not launch `instance` with `attached` as an instance of `service` under this config, or null
 * when it may: the name must be one the service gives within its ports, the attached units its own.
 */
export function launchRefusal(config: DynamiteConfig, service: string, instance: string, attached: string[]): string | null {
  const svc = findService(config, service);
  if (svc === undefined || svc.isAttached) return `${service} is not a configured service`;
  const naming = namingOfService(config, svc);
  const match = matchInstanceName(naming, instance);
  if (!match.ok) return match.problem;
  if (!match.inRange) {
    const range = portRangeOf(naming);
    return `"${instance}" is outside the ports of ${service} (${range ? `${range.first}..${range.last}` : 'none'})`;
  }
  return attachedProblem(naming, instance, attached);
}

/** The attached units an instance of the service has, in the order of the service's attached services. */
export function attachedNamesOf(naming: InstanceNaming, parentInstance: string): string[] {
  return naming.attached.map((a) => attachedInstanceName(a, parentInstance));
}

/**
 * Why `attached` cannot be attached units of `parentInstance`, or null. Every name must be one the service gives
 * that instance (a record may hold fewer: the original lost them on recovery), each at most once.
 */
export function attachedProblem(naming: InstanceNaming, parentInstance: string, attached: string[]): string | null {
  const allowed = new Set(attachedNamesOf(naming, parentInstance));
  const seen = new Set<string>();
  for (const name of attached) {
    if (!allowed.has(name)) return `"${name}" is not an attached unit of ${parentInstance} (expected one of: ${[...allowed].join(', ') || 'none'})`;
    if (seen.has(name)) return `"${name}" is listed twice as an attached unit of ${parentInstance}`;
    seen.add(name);
  }
  return null;
}
