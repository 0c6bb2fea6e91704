import type { DynamiteConfig, ScalingPolicyConfig, ServiceConfig } from './types';

/** Which way a policy moves a service. */
export type ScalingDirection = 'up' | 'down';

/** Every service that references `policyName`, with the direction, in file order (up before down). */
export function servicesUsingPolicy(config: DynamiteConfig, policyName: string): { service: string; direction: ScalingDirection }[] {
  const uses: { service: string; direction: ScalingDirection }[] = [];
  for (const service of config.services) {
    if (service.scaleUpPolicies.includes(policyName)) uses.push({ service: service.name, direction: 'up' });
    if (service.scaleDownPolicies.includes(policyName)) uses.push({ service: service.name, direction: 'down' });
  }
  return uses;
}

/** Whether `policyName` scales `serviceName` up or down, or null when that service does not use it. */
export function policyDirection(config: DynamiteConfig, serviceName: string, policyName: string): ScalingDirection | null {
  const service = findService(config, serviceName);
  if (!service) return null;
  if (service.scaleUpPolicies.includes(policyName)) return 'up';
  if (service.scaleDownPolicies.includes(policyName)) return 'down';
  return null;
}

/**
 * Whether a scale down of `service` waits while one of its scale-up windows is armed (the safe side wins): only when
 * it has more than one policy one way or the other. The original's pair of one up and one down policy keeps its
 * meaning: they decide independently.
 */
export function scaleDownWaitsForScaleUp(service: ServiceConfig): boolean {
  return service.scaleUpPolicies.length > 0 && service.scaleUpPolicies.length + service.scaleDownPolicies.length > 2;
}

/** Name indexes of a parsed config, built once per config object (configs are never mutated after parsing). */
const indexes = new WeakMap<DynamiteConfig, { services: Map<string, ServiceConfig>; policies: Map<string, ScalingPolicyConfig> }>();

function indexOf(config: DynamiteConfig) {
  let index = indexes.get(config);
  if (!index) {
    index = { services: new Map(config.services.map((s) => [s.name, s])), policies: new Map(config.policies.map((p) => [p.name, p])) };
    indexes.set(config, index);
  }
  return index;
}

/** The one way to look a service up by name (O(1): a thousand services are looked up per sample). */
export function findService(config: DynamiteConfig, name: string): ServiceConfig | undefined {
  return indexOf(config).services.get(name);
}

/** The one way to look a policy up by name. */
export function findPolicy(config: DynamiteConfig, name: string): ScalingPolicyConfig | undefined {
  return indexOf(config).policies.get(name);
}

/** The services that attach `attachedName` (its parents). */
export function parentsOf(config: DynamiteConfig, attachedName: string): ServiceConfig[] {
  return config.services.filter((s) => s.attachedServices.includes(attachedName));
}
