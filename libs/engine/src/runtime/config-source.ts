import { keys, parseConfig, type DynamiteConfig } from '@dynamite/domain';
import type { StateStore } from '@dynamite/store';

/**
 * The config every worker uses: the copy the scheduler stored in etcd (`/_dynamite/init/application_configuration`),
 * re-parsed only when its revision changes. Workers therefore need neither the YAML file nor the unit files.
 */
export class ConfigSource {
  private cached: { modRevision: string; config: DynamiteConfig } | null = null;

  constructor(private readonly store: StateStore) {}

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
