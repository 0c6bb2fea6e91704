import type { Redis } from 'ioredis';
import { createRedisConnection, epochKey } from '@dynamite/queues';
import type { EtcdConnectionOptions } from '@dynamite/store';
import {
  SampleWatch,
  createEngineContext,
  createLogger,
  reconcile,
  resolveConfig,
  useConfiguredFleetEndpoint,
  writeEngineState,
  type Clock,
  type EngineContext,
  type EngineMetrics,
  type LoadedConfig,
  type Logger,
} from '@dynamite/engine';
import { checkBind, credentialsFromEnv, startOperatorListener, type HttpListenOptions, type RunningHttp } from '@dynamite/operator';

export interface SchedulerOptions {
  configFile?: string;
  serviceFolders?: string[];
  etcd: EtcdConnectionOptions;
  redisUrl: string;
  queuePrefix: string;
  /** Used when the config has no FleetAPIEndpoint or the flag was given explicitly. */
  fleetEndpoint: string;
  fleetEndpointExplicit?: boolean;
  clock?: Clock;
  log?: Logger;
  metrics?: EngineMetrics;
  /** How often to check that Redis still holds the engine's queues (ms). */
  redisCheckMs?: number;
  /** The operator listener (board, API, metrics); null or absent: none. */
  http?: HttpListenOptions | null;
}

export interface RunningScheduler {
  ctx: EngineContext;
  loaded: LoadedConfig;
  watch: SampleWatch;
  redis: Redis;
  /** Base URL of the operator listener, or null when it is off. */
  httpUrl: string | null;
  close(): Promise<void>;
}

/**
 * The scheduler: loads the config, writes the engine's keys, adopts the fleet units of configured services, brings
 * every service to min_instance, keeps the job schedulers in place, and turns samples into policy-check jobs.
 * It also watches Redis: when Redis was wiped it rebuilds every job from etcd.
 */
export async function startScheduler(opts: SchedulerOptions): Promise<RunningScheduler> {
  const log = opts.log ?? createLogger('scheduler');
  if (opts.http) checkBind(opts.http, opts.http.credentials === undefined ? credentialsFromEnv() : opts.http.credentials);
  const redis = createRedisConnection(opts.redisUrl);
  const ctx = createEngineContext({ ...opts, connection: redis, log });
  let watch: SampleWatch | null = null;
  let http: RunningHttp | null = null;
  let redisCheck: NodeJS.Timeout | null = null;

  const closeAll = async (): Promise<void> => {
    if (redisCheck) clearInterval(redisCheck);
    await http?.close().catch(() => undefined);
    await watch?.stop().catch(() => undefined);
    await ctx.jobs.close().catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
    await ctx.config.close();
    ctx.store.etcd.close();
  };

  try {
    const loaded = await resolveConfig(ctx.store, opts);
    for (const w of loaded.config.warnings) log.warn({ path: w.path }, `config: ${w.message}`);
    const mode = await writeEngineState(ctx.store, loaded);
    await useConfiguredFleetEndpoint(ctx, opts);
    log.info({ mode, source: loaded.source, services: loaded.config.services.map((s) => s.name) }, 'engine state written');

    const sampleWatch = new SampleWatch(ctx, loaded.config);
    watch = sampleWatch;
    // Adoption of the units fleet already runs must come before any bound repair; when fleet cannot be listed at
    // start it is retried until it succeeds (reconcile skips bound repairs meanwhile).
    let adopted = false;
    const rebuild = async (why: string): Promise<void> => {
      await redis.set(epochKey(opts.queuePrefix), String(ctx.clock.now()));
      const report = await reconcile(ctx, { adopt: !adopted, heal: true });
      adopted = adopted || report.adoptionDone;
      // The periodic jobs only once adoption is done: their first run is immediate and must not repair bounds
      // before the units fleet already runs are recorded.
      if (adopted) await ctx.jobs.upsertSchedulers(loaded.config.engine.reconcileIntervalMs);
      // Checks that were waiting in the wiped Redis: every machine with samples gets one (each reads after its cursor).
      const checks = why === 'redis-wiped' ? (await sampleWatch.checkEveryMachine()).seen.size : 0;
      log.info({ why, ...report, checks }, 'jobs rebuilt from etcd');
    };
    await rebuild('start');

    await sampleWatch.start();
    log.info({ prefix: sampleWatch.prefix, revision: sampleWatch.revision }, 'watching samples');
    if (opts.http) http = await startOperatorListener({ ctx, redis, watch: sampleWatch, log }, opts.http);

    // Redis may be wiped at any time: its marker key going missing means every job must be rebuilt from etcd.
    let checking = false;
    let lastAdoptTry = ctx.clock.now();
    redisCheck = setInterval(() => {
      if (checking) return;
      checking = true;
      redis.exists(epochKey(opts.queuePrefix))
        .then(async (exists) => {
          if (exists === 0) {
            log.warn('Redis lost the engine queues; rebuilding from etcd');
            await rebuild('redis-wiped');
          } else if (!adopted && ctx.clock.now() - lastAdoptTry > 5_000) {
            lastAdoptTry = ctx.clock.now();
            await rebuild('adoption-retry');
          }
        })
        .catch((err: unknown) => log.warn({ err: String(err) }, 'Redis check failed'))
        .finally(() => { checking = false; });
    }, opts.redisCheckMs ?? 500);

    return {
      ctx,
      loaded,
      watch: sampleWatch,
      redis,
      httpUrl: http?.url ?? null,
      async close() {
        await closeAll();
        log.info('scheduler stopped');
      },
    };
  } catch (err) {
    // A scheduler that cannot start must not linger with open connections: the process has to exit (and be restarted).
    await closeAll();
    throw err;
  }
}
