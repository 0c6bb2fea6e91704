import { Range } from 'etcd3';
import { isUnderPrefixes, keys, metricWatchPrefixes, parseSampleKey, prefixEnd, trimTrailingSlashes } from '@dynamite/domain';
import { MAX_TXN_OPS, deleteIfUnchanged } from '@dynamite/store';
import type { EngineContext } from '../runtime/context';

/**
 * Deletes sample keys older than `metrics_retention`, so the keyspace stays bounded without producer leases. One
 * scan of the metrics base path in pages of keys (a range per watched prefix cost 10,000 round trips a run at 10,000
 * services, most of them empty), and the deletions in transactions of MAX_TXN_OPS.
 */
export async function collectOldSamples(ctx: EngineContext): Promise<number> {
  const config = await ctx.config.current();
  const cutoff = ctx.clock.now() - config.engine.metricsRetentionMs;
  const prefixes = metricWatchPrefixes(config);
  if (prefixes.length === 0) return 0;
  const base = `${trimTrailingSlashes(config.etcd.metricsBasePath)}/`;
  let deleted = 0;
  let start = prefixes[0]!;
  for (;;) {
    const batch = await ctx.store.etcd.getAll().inRange(new Range(start, prefixEnd(base))).limit(2000).keys();
    if (batch.length === 0) break;
    const old = batch.filter((key) => {
      if (!isUnderPrefixes(prefixes, key)) return false;
      const parsed = parseSampleKey(key, config.etcd.metricsBasePath);
      return parsed.ok && parsed.sample.ts < cutoff;
    });
    for (let i = 0; i < old.length; i += MAX_TXN_OPS) {
      await ctx.store.commit([], old.slice(i, i + MAX_TXN_OPS).map((key) => ({ del: key })));
    }
    deleted += old.length;
    if (batch.length < 2000) break;
    start = `${batch[batch.length - 1]}\u0000`;
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

/**
 * A cooldown's end. The record is kept (a window that ended inside the cooldown must never fire later, whenever
 * its timer job runs); views show it as ended. Returns whether this cooldown is the current one and over.
 */
export async function endCooldown(ctx: EngineContext, service: string, policy: string, decisionId: string): Promise<boolean> {
  const current = await ctx.store.readCooldown(service, policy);
  const ended = current.value !== null && current.value.decisionId === decisionId && current.value.until <= ctx.clock.now();
  if (ended) ctx.log.info({ decisionId, service, policy }, `cooldown of ${service}/${policy} ended`);
  return ended;
}

/**
 * Keeps the engine's own keys bounded: done actions older than `keepDoneMs` (failed ones stay until an operator
 * retried them), and state machines that are neither armed nor updated for `idleMs` (their instance is gone and its
 * samples aged out). Deletes are guarded by the revision read, so a machine a check just updated is kept.
 */
export async function collectIdleState(ctx: EngineContext, opts: { keepDoneMs?: number; idleMs?: number } = {}): Promise<{ actions: number; machines: number }> {
  const now = ctx.clock.now();
  const config = await ctx.config.current();
  const keepDoneMs = opts.keepDoneMs ?? 3_600_000;
  const idleMs = opts.idleMs ?? Math.max(config.engine.metricsRetentionMs, 600_000);
  let actions = 0;
  for (const action of await ctx.store.listActions()) {
    if (action.status !== 'done' || action.finishedAt === null || now - action.finishedAt < keepDoneMs) continue;
    const current = await ctx.store.readAction(action.service, action.decisionId);
    if (await deleteIfUnchanged(ctx.store, keys.action(action.service, action.decisionId), current.modRevision)) actions += 1;
  }
  let machines = 0;
  for (const m of (await ctx.store.listPolicyState()).machines) {
    if (m.stored.state.armed || now - m.stored.updatedAt < idleMs) continue;
    const current = await ctx.store.readMachine(m.service, m.policy, m.machine);
    if (current.value?.state.armed || (current.value && now - current.value.updatedAt < idleMs)) continue;
    if (await deleteIfUnchanged(ctx.store, keys.machine(m.service, m.policy, m.machine), current.modRevision)) machines += 1;
  }
  return { actions, machines };
}
