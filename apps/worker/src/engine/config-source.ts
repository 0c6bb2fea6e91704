import { keys, parseConfig, type DynamiteConfig, type ScalingPolicyConfig, type ServiceConfig } from '@dynamite/domain';
import type { EngineStore } from '@dynamite/store';

/**
 * The config every worker uses: the copy the scheduler stored in etcd (`/_dynamite/init/application_configuration`),
 * re-parsed only when its revision changes. Workers therefore need neither the YAML file nor the unit files.
 */
export class ConfigSource {
  private cached: { modRevision: string; config: DynamiteConfig } | null = null;

  constructor(private readonly store: EngineStore) {}

  async current(): Promise<DynamiteConfig> {
    const res = await this.store.etcd.get(keys.applicationConfiguration).exec();
    const kv = res.kvs[0];
    if (!kv) throw new Error(`no configuration in etcd at ${keys.applicationConfiguration}; start the scheduler first`);
    const modRevision = String(kv.mod_revision);
    if (this.cached?.modRevision === modRevision) return this.cached.config;
    const parsed = parseConfig(kv.value.toString('utf8'), { source: keys.applicationConfiguration });
    if (!parsed.ok) {
      throw new Error(`stored configuration is invalid: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    }
    this.cached = { modRevision, config: parsed.config };
    return parsed.config;
  }
}

export function findService(config: DynamiteConfig, name: string): ServiceConfig | undefined {
  return config.services.find((s) => s.name === name);
}

export function findPolicy(config: DynamiteConfig, name: string): ScalingPolicyConfig | undefined {
  return config.policies.find((p) => p.name === name);
}

/** Whether a policy scales its service up or down (a policy used for both is treated as scale up). */
export function directionOf(service: ServiceConfig, policy: string): 'up' | 'down' | null {
  if (service.scaleUpPolicy === policy) return 'up';
  if (service.scaleDownPolicy === policy) return 'down';
  return null;
}
