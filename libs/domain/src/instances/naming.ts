import type { DynamiteConfig, ServiceConfig } from '../config/types';
import { findService } from '../config/policy-usage';

/**
 * Instance names, as the original chose them (spec 4.8):
 *   template service      `<service key>@<first port>.service` (the key, not the unit file's prefix)
 *   non-template service  the unit file's name: the service has exactly one instance
 *   attached service      `<attached key>@<parent's instance suffix>.service`
 */

const SERVICE_SUFFIX = '.service';

export function instanceName(service: ServiceConfig, port: number | null): string {
  if (!service.isTemplate) return service.unitFile;
  if (port === null) throw new Error(`template service ${service.name} needs a port to name an instance`);
  return `${service.name}@${port}${SERVICE_SUFFIX}`;
}

/**
 * The instance suffix (systemd's `%i`) of a parent instance: `apache@8081.service` -> `8081`. A non-template
 * parent has none; its name without `.service` is used (`loadbalancer.service` -> `loadbalancer`), so an
 * attached template still gets one stable, unique instance per parent.
 */
export function instanceSuffix(parentInstance: string): string {
  const stem = parentInstance.endsWith(SERVICE_SUFFIX)
    ? parentInstance.slice(0, -SERVICE_SUFFIX.length)
    : parentInstance;
  const at = stem.indexOf('@');
  return at === -1 ? stem : stem.slice(at + 1);
}

export function attachedInstanceName(attached: Pick<ServiceConfig, 'name' | 'isTemplate' | 'unitFile'>, parentInstance: string): string {
  if (!attached.isTemplate) return attached.unitFile;
  return `${attached.name}@${instanceSuffix(parentInstance)}${SERVICE_SUFFIX}`;
}

/**
 * The attached instances created and destroyed with `parentInstance`, in the order of the parent's
 * `attached_service` list. Unknown services (config validation rejects them) are skipped.
 */
export function attachedInstancesOf(config: DynamiteConfig, service: string, parentInstance: string): string[] {
  const parent = findService(config, service);
  if (parent === undefined) return [];
  const names: string[] = [];
  for (const key of parent.attachedServices) {
    const attached = findService(config, key);
    if (attached !== undefined) names.push(attachedInstanceName(attached, parentInstance));
  }
  return names;
}
