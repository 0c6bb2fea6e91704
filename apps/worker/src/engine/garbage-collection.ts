import { Range } from 'etcd3';
import { keys, metricWatchPrefixes, parseSampleKey, prefixEnd } from '@dynamite/domain';
import type { EngineContext } from './context';

/** Deletes sample keys older than `metrics_retention`, so the keyspace stays bounded without producer leases. */
export async function collectOldSamples(ctx: EngineContext): Promise<number> {
  const config = await ctx.config.current();
  const cutoff = ctx.clock.now() - config.engine.metricsRetentionMs;
  let deleted = 0;
  for (const prefix of metricWatchPrefixes(config)) {
    let start = prefix;
    for (;;) {
      const batch = await ctx.store.etcd.getAll().inRange(new Range(start, prefixEnd(prefix))).limit(2000).keys();
      if (batch.length === 0) break;
      const old = batch.filter((key) => {
        const parsed = parseSampleKey(key, config.etcd.metricsBasePath);
        return parsed.ok && parsed.sample.ts < cutoff;
      });
      for (const key of old) await ctx.store.etcd.delete().key(key).exec();
      deleted += old.length;
      if (batch.length < 2000) break;
      start = `${batch[batch.length - 1]}\u0000`;
    }
  }
  return deleted;
}

/** Keeps the newest decision records of each service. */
export async function collectOldDecisions(ctx: EngineContext, keep = 2000): Promise<number> {
  const services = await ctx.store.etcd.getAll().prefix(keys.decisionsPrefix).keys();
  const names = [...new Set(services.map((k) => k.slice(keys.decisionsPrefix.length).split('/')[0]!))];
  let deleted = 0;
  for (const service of names) deleted += await ctx.store.trimDecisions(service, keep);
  return deleted;
}

/** Removes a cooldown record once it has ended (so status views show none). */
export async function endCooldown(ctx: EngineContext, service: string, policy: string, decisionId: string): Promise<boolean> {
  const current = await ctx.store.readCooldown(service, policy);
  if (!current.value || current.value.decisionId !== decisionId || current.value.until > ctx.clock.now()) return false;
  return ctx.store.commit([{ key: keys.cooldown(service, policy), modRevision: current.modRevision }], [{ del: keys.cooldown(service, policy) }]);
}
