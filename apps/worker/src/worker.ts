import { Worker, type Job } from 'bullmq';
import { ACTIONS_QUEUE, CHECKS_QUEUE, MAINTENANCE_QUEUE, NOTIFICATIONS_QUEUE } from '@dynamite/domain';
import {
  createEngineContext,
  createLogger,
  onActionJobFailed,
  onWebhookJobFailed,
  processActionJob,
  processCheckQueueJob,
  processMaintenanceJob,
  processNotificationJob,
  useConfiguredFleetEndpoint,
  type Clock,
  type EngineContext,
  type EngineMetrics,
  type FleetClientOptions,
  type Logger,
} from '@dynamite/engine';
import { startWorkerMetricsServer } from '@dynamite/operator';
import { connectRedis, createRedisConnection } from '@dynamite/queues';
import type { EtcdConnectionOptions } from '@dynamite/store';

export interface WorkerOptions {
  etcd: EtcdConnectionOptions;
  redisUrl: string;
  queuePrefix: string;
  fleetEndpoint: string;
  /** True when -f was given: it then wins over the config's FleetAPIEndpoint. */
  fleetEndpointExplicit?: boolean;
  /** Policy checks and period expiries processed at once. */
  concurrency?: number;
  /** Fleet actions carried out at once: they mostly wait on fleet converging, so many can run (default 256). */
  actionConcurrency?: number;
  /** Webhook deliveries at once (default 8). */
  notificationConcurrency?: number;
  /** How long a job stays locked without a heartbeat before another worker takes it over (ms). */
  lockDurationMs?: number;
  /** How often workers look for stalled jobs (ms). */
  stalledIntervalMs?: number;
  clock?: Clock;
  log?: Logger;
  metrics?: EngineMetrics;
  /** Serve this worker's /metrics and /healthz here (null or absent: no listener). */
  metricsListen?: { host: string; port: number } | null;
  /** Options of the fleet client (retries, timeouts). */
  fleet?: FleetClientOptions;
  /** How long a stop waits for active jobs before leaving them to another worker (ms, default 5000). */
  closeGraceMs?: number;
}

export interface RunningWorker {
  ctx: EngineContext;
  workers: Worker[];
  /** URL of the worker's metrics listener, when it has one. */
  metricsUrl: string | null;
  /** Stops taking jobs, lets active jobs finish, closes connections. */
  close(): Promise<void>;
}

/** BullMQ workers taking fleet actions in one worker process. */
const ACTION_FETCHERS = 4;

/** A worker: BullMQ workers on the four queues, wired to the engine's processors. Run any number, anywhere. */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const log = opts.log ?? createLogger('worker');
  // Redis and etcd answer (or one clear error says why not) before any job is taken.
  const connection = await connectRedis(opts.redisUrl);
  let ctx: EngineContext;
  try {
    ctx = createEngineContext({ ...opts, connection, log });
  } catch (err) {
    connection.disconnect();
    throw err;
  }
  try {
    await ctx.store.currentRevision();
  } catch (err) {
    await ctx.jobs.close().catch(() => undefined);
    connection.disconnect();
    ctx.store.etcd.close();
    throw err;
  }
  await useConfiguredFleetEndpoint(ctx, opts);
  // A FleetAPIEndpoint changed by a hot reload reaches this worker with the config (docs/hot-reload.md).
  const stopFollowing = ctx.config.onChange(() => {
    useConfiguredFleetEndpoint(ctx, opts).catch((err: unknown) => log.warn({ err: String(err) }, 'could not switch the fleet endpoint'));
  });
  const concurrency = opts.concurrency ?? 64;
  const common = {
    connection: createRedisConnection(opts.redisUrl),
    prefix: opts.queuePrefix,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 15_000,
    maxStalledCount: 3,
    autorun: true,
  };

  const counted = (process: (ctx: EngineContext, job: Job) => Promise<unknown>) => (job: Job) =>
    process(ctx, job).then(
      (value) => { ctx.metrics.jobsProcessed.inc({ queue: job.queueName, name: job.name, result: 'completed' }); return value; },
      (err: unknown) => { ctx.metrics.jobsProcessed.inc({ queue: job.queueName, name: job.name, result: 'failed' }); throw err; },
    );
  const checks = new Worker(CHECKS_QUEUE, counted(processCheckQueueJob), { ...common, concurrency });
  const actionConcurrency = opts.actionConcurrency ?? 256;
  // BullMQ fetches a burst of jobs one at a time, a round trip each, and an action holds its slot while fleet
  // launches its units (~1 s): several fetchers share a burst of actions decided at once (the concurrency split
  // between them).
  const actionFetchers = Math.min(ACTION_FETCHERS, actionConcurrency);
  const actions = Array.from({ length: actionFetchers }, (_, i) => new Worker(ACTIONS_QUEUE, counted(processActionJob), {
    ...common,
    concurrency: Math.floor(actionConcurrency / actionFetchers) + (i < actionConcurrency % actionFetchers ? 1 : 0),
  }));
  const maintenance = new Worker(MAINTENANCE_QUEUE, counted(processMaintenanceJob), { ...common, concurrency: 1 });
  const notifications = new Worker(NOTIFICATIONS_QUEUE, counted(processNotificationJob), { ...common, concurrency: opts.notificationConcurrency ?? 8 });
  for (const fetcher of actions) {
    fetcher.on('failed', (job, err) => {
      if (!job) return;
      onActionJobFailed(ctx, job, err).catch((e: unknown) => ctx.log.error({ jobId: job.id, err: String(e) }, 'could not record the failure'));
    });
  }
  notifications.on('failed', (job, err) => {
    if (!job) return;
    onWebhookJobFailed(ctx, job, err).catch((e: unknown) => ctx.log.error({ jobId: job.id, err: String(e) }, 'could not record the failed delivery'));
  });

  const workers = [checks, ...actions, maintenance, notifications];
  for (const w of workers) {
    w.on('error', (err) => log.error({ queue: w.name, err: err.message }, 'worker error'));
    if (!actions.includes(w) && w !== notifications) w.on('failed', (job, err) => log.warn({ queue: w.name, job: job?.name, jobId: job?.id, err: err.message }, 'job failed'));
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const metricsServer = opts.metricsListen ? await startWorkerMetricsServer(ctx.metrics, opts.metricsListen) : null;
  log.info({ queuePrefix: opts.queuePrefix, concurrency, actionConcurrency, metrics: metricsServer?.url ?? null }, 'worker ready');

  return {
    ctx,
    workers,
    metricsUrl: metricsServer?.url ?? null,
    async close() {
      // Active jobs get a few seconds to finish; past that they are left to another worker (every job is
      // idempotent, and a job whose lock lapses is taken over), so a stop never waits on a slow fleet.
      const drained = await Promise.race([
        Promise.all(workers.map((w) => w.close())).then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), opts.closeGraceMs ?? 5_000).unref()),
      ]);
      if (!drained) log.warn({ graceMs: opts.closeGraceMs ?? 5_000 }, 'jobs still active at stop; left for another worker to take over');
      await metricsServer?.close();
      stopFollowing();
      await ctx.config.close();
      if (drained) {
        await Promise.all([ctx.jobs.close(), common.connection.quit().catch(() => undefined)]);
        await connection.quit().catch(() => undefined);
      } else {
        common.connection.disconnect();
        connection.disconnect();
      }
      ctx.store.etcd.close();
    },
  };
}
