import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { DynamiteConfig } from '@dynamite/domain';
import { connectRedis, epochKey } from '@dynamite/queues';
import { createEtcdClient, type EtcdConnectionOptions, type WriteFence } from '@dynamite/store';
import {
  ConfigLoadError,
  ConfigReload,
  ELECTION_PREFIX,
  SampleWatch,
  SchedulerElection,
  applyConfigChange,
  createEngineContext,
  createLogger,
  markApplied,
  planConfig,
  reconcile,
  resolveConfig,
  settleConfig,
  storeConfig,
  useConfiguredFleetEndpoint,
  writeEngineState,
  type Clock,
  type EngineContext,
  type EngineMetrics,
  type LeadershipStatus,
  type LoadedConfig,
  type Logger,
} from '@dynamite/engine';
import { checkBind, credentialsFromEnv, startOperatorListener, type HttpListenOptions, type RunningHttp } from '@dynamite/operator';

/** Lease TTL of the scheduler election: a dead leader is replaced within this plus about a second. */
export const DEFAULT_LEADER_TTL_SECONDS = 5;

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
  /** This scheduler's name in the election (default: host name and pid). */
  schedulerId?: string;
  /** Lease TTL of the election in seconds (default DEFAULT_LEADER_TTL_SECONDS). */
  leaderTtlSeconds?: number;
  /**
   * `--dry_run`: when this scheduler leads, every decision of every worker is evaluated and recorded as `dry_run`,
   * and nothing reaches fleet. Stored in etcd by the leader at each election (so every worker follows it at once);
   * a leader without it clears it.
   */
  dryRun?: boolean;
}

export interface RunningScheduler {
  ctx: EngineContext;
  /** The config read at start (each election reads it again). */
  loaded: LoadedConfig;
  /** The sample watch of the current leadership term (revision null on a standby). */
  watch: { readonly revision: string | null; readonly prefix: string };
  redis: Redis;
  /** Base URL of the operator listener, or null when it is off. */
  httpUrl: string | null;
  leadership: { status(): LeadershipStatus };
  /**
   * SIGHUP: reads the config file (-c) and its unit files again and, when leading, stores them; the leader applies
   * them like `dynamite apply` (docs/hot-reload.md). On a standby the file is only checked: it is read at election.
   * A bad file changes nothing (every problem is logged). Resolves to what was done.
   */
  reload(): Promise<'stored' | 'unchanged' | 'checked' | 'invalid' | 'no-file'>;
  close(): Promise<void>;
}

/** Before its first election a scheduler writes nothing: every commit of its store is refused. */
const STANDBY_FENCE: WriteFence = { key: ELECTION_PREFIX, createRevision: '-1', holds: () => false };

/**
 * The scheduler: several may run; they elect a leader through etcd (SchedulerElection) and the others stand by,
 * serving the read-only operator listener. The leader loads the config, writes the engine's keys, adopts the fleet
 * units of configured services, brings every service to min_instance, keeps the job schedulers in place, and turns
 * samples into policy-check jobs (LeaderTerm); a standby that is elected does exactly the same, resuming from the
 * stored watch revision. Every etcd write of the scheduler is fenced on its leadership.
 */
export async function startScheduler(opts: SchedulerOptions): Promise<RunningScheduler> {
  const log = opts.log ?? createLogger('scheduler');
  if (opts.http) checkBind(opts.http, opts.http.credentials === undefined ? credentialsFromEnv() : opts.http.credentials);
  // Redis first, with a deadline: a wrong password or an untrusted certificate is one clear error, not a hang.
  const redis = await connectRedis(opts.redisUrl);
  let ctx: EngineContext;
  try {
    ctx = createEngineContext({ ...opts, connection: redis, log });
  } catch (err) {
    // e.g. a TLS file of --etcd_ca that cannot be read: nothing may keep the process alive.
    redis.disconnect();
    throw err;
  }
  ctx.store.fenceWith(STANDBY_FENCE);
  let http: RunningHttp | null = null;
  let election: SchedulerElection | null = null;
  let term: LeaderTerm | null = null;

  const closeAll = async (): Promise<void> => {
    // Leading work stops first (the watch revision is stored), then the lease is revoked: a standby takes over at once.
    await election?.close().catch(() => undefined);
    await http?.close().catch(() => undefined);
    await ctx.jobs.close().catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
    await ctx.config.close();
    ctx.store.etcd.close();
  };

  try {
    // etcd answers (or one clear error says why not) before anything runs, leader or not.
    await ctx.store.currentRevision();
    // A bad config fails the start, leader or not.
    const loaded = await resolveConfig(ctx.store, opts);
    for (const w of loaded.config.warnings) log.warn({ path: w.path }, `config: ${w.message}`);
    const prefix = `${loaded.config.etcd.metricsBasePath}/`;
    const watch = {
      get revision() { return term?.watch?.revision ?? null; },
      get prefix() { return term?.watch?.prefix ?? prefix; },
      get active() { return term !== null; },
    };
    const schedulerId = opts.schedulerId ?? `${os.hostname()}:${process.pid}`;
    const elected = new SchedulerElection({
      etcd: ctx.store.etcd,
      id: schedulerId,
      ttlSeconds: opts.leaderTtlSeconds ?? DEFAULT_LEADER_TTL_SECONDS,
      log,
      clock: ctx.clock,
      url: () => http?.url ?? null,
      onElected: async (fence) => {
        ctx.store.fenceWith(fence);
        const next = new LeaderTerm(ctx, { ...opts, schedulerId }, redis, log);
        term = next;
        await next.start();
      },
      onDemoted: async (_reason, lost) => {
        const ended = term;
        term = null;
        // A lost lease: stop at once, write nothing (the next leader resumes from the stored revision).
        await ended?.stop({ flush: !lost });
      },
    });
    election = elected;
    if (opts.http) http = await startOperatorListener({ ctx, etcd: opts.etcd, redisUrl: opts.redisUrl, watch, log, leadership: elected }, opts.http);
    elected.start();
    await elected.settled;

    return {
      ctx,
      loaded,
      watch,
      redis,
      httpUrl: http?.url ?? null,
      leadership: elected,
      async reload() {
        if (!opts.configFile) {
          log.warn('SIGHUP: started without a config file (-c); nothing to re-read (use dynamite apply)');
          return 'no-file';
        }
        let next;
        try {
          next = await resolveConfig(ctx.store, opts, { preferFile: true });
        } catch (err) {
          if (!(err instanceof ConfigLoadError)) throw err;
          for (const problem of err.problems) log.error({ file: opts.configFile }, `SIGHUP: config not reloaded: ${problem}`);
          return 'invalid';
        }
        if (term === null) {
          log.info({ file: opts.configFile }, 'SIGHUP: config file is valid; standing by (the leader applies changes; this file is read at election)');
          return 'checked';
        }
        const plan = await planConfig(ctx.store, { config: next.config, unitFiles: next.unitFiles! });
        const revision = await storeConfig(ctx.store, { config: next.config, unitFiles: next.unitFiles! }, plan, { prune: false, by: 'SIGHUP', now: ctx.clock.now(), fileDigest: next.fileDigest });
        log.info({ file: opts.configFile, revision, changed: plan.changed }, plan.changed ? 'SIGHUP: config file stored; applying it' : 'SIGHUP: config file unchanged');
        return plan.changed ? 'stored' : 'unchanged';
      },
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

/**
 * What the leader does, from its election until it stops leading: the same rebuild a scheduler always ran at start
 * (engine state, adoption, bound repairs, timers, cooldowns, pending actions, job schedulers), then the sample watch
 * from the stored revision, and the check that Redis still holds the queues.
 */
class LeaderTerm {
  watch: SampleWatch | null = null;
  private redisCheck: NodeJS.Timeout | null = null;
  private reload: ConfigReload | null = null;
  private stopped = false;

  constructor(private readonly ctx: EngineContext, private readonly opts: SchedulerOptions, private readonly redis: Redis, private readonly log: Logger) {}

  async start(): Promise<void> {
    const { ctx, opts, log } = this;
    const began = performance.now();
    const loaded = await resolveConfig(ctx.store, opts);
    if (loaded.keptStored) log.warn(loaded.keptStored);
    const mode = await writeEngineState(ctx.store, loaded, { dryRun: opts.dryRun ? { at: ctx.clock.now(), by: opts.schedulerId ?? null } : null });
    await useConfiguredFleetEndpoint(ctx, opts);
    log.info({ mode, source: loaded.source, services: loaded.config.services.map((s) => s.name), dryRun: opts.dryRun === true }, 'engine state written');
    if (opts.dryRun) log.warn('dry run (--dry_run): every decision is evaluated and recorded as dry_run; nothing reaches fleet');
    // The config as stored now, with its revision: what this term applies, and compares later changes with. A change
    // made while no leader ran (or before a leader died applying it) is settled here, as a hot reload would have.
    const baseline = await ctx.config.latest({ fresh: true });
    const settled = await settleConfig(ctx, baseline, { by: loaded.source === 'file' ? `the config file of a scheduler start (${opts.configFile})` : 'a scheduler start' });
    if (settled.from !== null && settled.from !== baseline.modRevision) log.info({ ...settled }, 'config changed since it was last applied; settled');

    const sampleWatch = new SampleWatch(ctx, baseline.config, { watchClient: () => createEtcdClient(this.opts.etcd) });
    this.watch = sampleWatch;
    // Adoption of the units fleet already runs must come before any bound repair; when fleet cannot be listed at
    // start it is retried until it succeeds (reconcile skips bound repairs meanwhile).
    let adopted = false;
    const rebuild = async (why: string): Promise<void> => {
      await this.redis.set(epochKey(opts.queuePrefix), String(ctx.clock.now()));
      const report = await reconcile(ctx, { adopt: !adopted, heal: true });
      adopted = adopted || report.adoptionDone;
      // The periodic jobs only once adoption is done: their first run is immediate and must not repair bounds
      // before the units fleet already runs are recorded.
      if (adopted) await ctx.jobs.upsertSchedulers((await ctx.config.current()).engine.reconcileIntervalMs);
      // Checks that were waiting in the wiped Redis: every machine with samples gets one (each reads after its cursor).
      const checks = why === 'redis-wiped' && this.watch ? (await this.watch.checkEveryMachine()).seen.size : 0;
      log.info({ why, ...report, checks }, 'jobs rebuilt from etcd');
    };
    await rebuild('elected');
    if (this.stopped) return;
    if (settled.from !== baseline.modRevision) await markApplied(ctx.store, baseline);

    await sampleWatch.start(mode);
    if (this.stopped) {
      await sampleWatch.stop({ flush: false });
      return;
    }
    log.info({ prefix: sampleWatch.prefix, revision: sampleWatch.revision, tookMs: Math.round(performance.now() - began) }, 'leading: watching samples');

    // Configs stored from now on (dynamite apply, SIGHUP) are applied while the watch goes on.
    this.reload = new ConfigReload(ctx, baseline.modRevision, (next) => applyConfigChange(ctx, next, {
      routeSamples: (config) => this.routeSamples(config),
      fleet: opts,
    }));
    this.reload.start();

    // Redis may be wiped at any time: its marker key going missing means every job must be rebuilt from etcd.
    let checking = false;
    let lastAdoptTry = ctx.clock.now();
    this.redisCheck = setInterval(() => {
      if (checking || this.stopped) return;
      checking = true;
      this.redis.exists(epochKey(opts.queuePrefix))
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
  }

  /**
   * Samples are routed by the new config from the next batch on; a new metrics prefix takes a new watch, resumed
   * from the stored revision (so nothing written meanwhile under the new prefix is missed).
   */
  private async routeSamples(config: DynamiteConfig): Promise<void> {
    const current = this.watch;
    if (this.stopped || !current) return;
    if (current.prefix === `${config.etcd.metricsBasePath}/`) {
      current.useConfig(config);
      return;
    }
    await current.stop({ flush: true });
    const next = new SampleWatch(this.ctx, config, { watchClient: () => createEtcdClient(this.opts.etcd) });
    this.watch = next;
    await next.start('recovered');
    this.log.info({ from: current.prefix, to: next.prefix, revision: next.revision }, 'metrics prefix changed: watching the new one');
  }

  async stop(opts: { flush: boolean }): Promise<void> {
    this.stopped = true;
    if (this.redisCheck) clearInterval(this.redisCheck);
    await this.reload?.stop().catch(() => undefined);
    await this.watch?.stop(opts).catch(() => undefined);
  }
}
