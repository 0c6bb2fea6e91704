import type { DynamiteConfig, ScalingPolicyConfig, ServiceConfig } from '../config/types';

// Internal: config look-ups shared by the instance and policy modules (not exported from the package).

export function serviceNamed(config: DynamiteConfig, name: string): ServiceConfig | undefined {
  return config.services.find((s) => s.name === name);
}

export function policyNamed(config: DynamiteConfig, name: string): ScalingPolicyConfig | undefined {
  return config.policies.find((p) => p.name === name);
}
