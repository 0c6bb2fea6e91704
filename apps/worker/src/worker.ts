import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  ACTIONS_QUEUE,
  CHECKS_QUEUE,
  JOB,
  MAINTENANCE_QUEUE,
  type ActionJobData,
  type CheckJobData,
  type CooldownEndJobData,
  type TimerJobData,
} from '@dynamite/domain';
import { FleetClient } from '@dynamite/fleet-client';
import { EngineQueues, createRedisConnection } from '@dynamite/queues';
import { EngineStore, createEtcdClient, type EtcdConnectionOptions } from '@dynamite/store';
import { systemClock, type Clock } from './engine/clock';
import { ConfigSource } from './engine/config-source';
import type { EngineContext } from './engine/context';
import { runFleetAction, recordActionResult } from './engine/fleet-action';
import { collectIdleState, collectOldDecisions, collectOldSamples, endCooldown } from './engine/garbage-collection';
import { JobProducer } from './engine/job-producer';
import { createLogger, type Logger } from './engine/logger';
import { runMachine } from './engine/machine-runner';
import { EngineMetrics } from './engine/metrics';
import { reconcile } from './engine/reconcile';
import { startMetricsServer } from './metrics-server';

export interface WorkerOptions {
  etcd: EtcdConnectionOptions;
  redisUrl: string;
  queuePrefix: string;
  fleetEndpoint: string;
  /** True when -f was given: it then wins over the config's FleetAPIEndpoint. */
  fleetEndpointExplicit?: boolean;
  /** Jobs processed at once per queue (checks and actions). */
  concurrency?: number;
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
  fleet?: ConstructorParameters<typeof FleetClient>[0];
}

export interface RunningWorker {
  ctx: EngineContext;
  workers: Worker[];
  /** URL of the worker's metrics listener, when it has one. */
  metricsUrl: string | null;
  /** Stops taking jobs, lets active jobs finish, closes connections. */
  close(): Promise<void>;
}

/** Builds the shared engine context (used by workers, the scheduler and `dynamite run`). */
export function createEngineContext(opts: {
  etcd: EtcdConnectionOptions; connection: Redis; queuePrefix: string; fleetEndpoint: string; clock?: Clock; log: Logger; metrics?: EngineMetrics;
  fleet?: ConstructorParameters<typeof FleetClient>[0];
}): EngineContext {
  const store = new EngineStore(createEtcdClient(opts.etcd));
  const queues = new EngineQueues(opts.connection, opts.queuePrefix);
  return {
    store,
    config: new ConfigSource(store),
    jobs: new JobProducer(queues),
    fleet: new FleetClient({ ...(opts.fleet ?? {}), endpoint: opts.fleetEndpoint }),
    clock: opts.clock ?? systemClock,
    log: opts.log,
    metrics: opts.metrics ?? new EngineMetrics(),
  };
}

/**
 * The fleet endpoint: -f/--fleet_endpoint when given, else the config's FleetAPIEndpoint, else the default.
 * (The original used the flag at first start and the config everywhere else; one rule is simpler.)
 */
export async function useConfiguredFleetEndpoint(ctx: EngineContext, opts: { fleetEndpointExplicit?: boolean; fleet?: ConstructorParameters<typeof FleetClient>[0] }): Promise<void> {
  if (opts.fleetEndpointExplicit) return;
  let configured: { ip: string; port: number } | null = null;
  try {
    configured = (await ctx.config.current()).fleetEndpoint;
  } catch {
    return; // no stored config yet: keep the default
  }
  if (configured) ctx.fleet = new FleetClient({ ...(opts.fleet ?? {}), endpoint: `${configured.ip}:${configured.port}` });
}

/** Starts the processors of all three queues. Any number of workers may run, on any machine. */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const log = opts.log ?? createLogger('worker');
  const connection = createRedisConnection(opts.redisUrl);
  const ctx = createEngineContext({ ...opts, connection, log });
  await useConfiguredFleetEndpoint(ctx, opts);
  const concurrency = opts.concurrency ?? 4;
  const common = {
    connection: createRedisConnection(opts.redisUrl),
    prefix: opts.queuePrefix,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 15_000,
    maxStalledCount: 3,
    autorun: true,
  };

  const track = <T>(queue: string, job: Job, work: () => Promise<T>): Promise<T> =>
    work().then(
      (value) => { ctx.metrics.jobsProcessed.inc({ queue, name: job.name, result: 'completed' }); return value; },
      (err: unknown) => { ctx.metrics.jobsProcessed.inc({ queue, name: job.name, result: 'failed' }); throw err; },
    );

  const checks = new Worker(CHECKS_QUEUE, (job: Job) => track(CHECKS_QUEUE, job, async () => {
    switch (job.name) {
      case JOB.check: {
        const data = job.data as CheckJobData;
        return runMachine(ctx, data, { kind: 'check', hint: { revision: data.revision, receivedAt: data.receivedAt } });
      }
      case JOB.timer: {
        const data = job.data as TimerJobData;
        // Promoted early (by hand from the board, or a clock step): a period is never cut short.
        const early = data.at - ctx.clock.now();
        if (early > 5_000) {
          await ctx.jobs.addTimer(data, data.timerId, data.at, ctx.clock.now(), 'early');
          return { outcome: 'rescheduled', at: data.at };
        }
        if (early > 0) await new Promise((r) => setTimeout(r, early));
        return runMachine(ctx, data, { kind: 'timer', timerId: data.timerId });
      }
      case JOB.cooldownEnd: {
        const data = job.data as CooldownEndJobData;
        return { ended: await endCooldown(ctx, data.service, data.policy, data.decisionId) };
      }
      default: throw new Error(`unknown job ${job.name} on ${CHECKS_QUEUE}`);
    }
  }), { ...common, concurrency });

  const actions = new Worker(ACTIONS_QUEUE, (job: Job) => track(ACTIONS_QUEUE, job, () =>
    runFleetAction(ctx, job.data as ActionJobData, job.attemptsMade + 1)), { ...common, concurrency });
  actions.on('failed', async (job, err) => {
    if (!job) return;
    // Final when no retry is scheduled: out of attempts, or failed for good by a stall limit.
    const final = job.attemptsMade >= (job.opts.attempts ?? 1) || (await job.getState().catch(() => 'unknown')) === 'failed';
    const data = job.data as ActionJobData;
    ctx.metrics.fleetActions.inc({ service: data.service, kind: data.kind, result: final ? 'failed' : 'retry' });
    ctx.log.warn({ decisionId: data.decisionId, instance: data.instance, attempt: job.attemptsMade, final, err: err.message }, final ? 'fleet action failed; left in the failed set for a manual retry' : 'fleet action failed; will retry');
    if (final) {
      recordActionResult(ctx, data, { status: 'failed', error: err.message, result: null })
        .catch((e: unknown) => ctx.log.error({ decisionId: data.decisionId, err: String(e) }, 'could not record the failure'));
    }
  });

  const maintenance = new Worker(MAINTENANCE_QUEUE, (job: Job) => track(MAINTENANCE_QUEUE, job, async () => {
    switch (job.name) {
      case JOB.reconcile: return reconcile(ctx, { adopt: false, heal: true });
      case JOB.sampleGc: return { deleted: await collectOldSamples(ctx) };
      case JOB.recordGc: return { deleted: await collectOldDecisions(ctx), ...(await collectIdleState(ctx)) };
      default: throw new Error(`unknown job ${job.name} on ${MAINTENANCE_QUEUE}`);
    }
  }), { ...common, concurrency: 1 });

  const workers = [checks, actions, maintenance];
  for (const w of workers) {
    w.on('error', (err) => log.error({ queue: w.name, err: err.message }, 'worker error'));
    w.on('failed', (job, err) => {
      if (w !== actions) log.warn({ queue: w.name, job: job?.name, jobId: job?.id, err: err.message }, 'job failed');
    });
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const metricsServer = opts.metricsListen ? await startMetricsServer(ctx.metrics, opts.metricsListen) : null;
  log.info({ queuePrefix: opts.queuePrefix, concurrency, metrics: metricsServer?.url ?? null }, 'worker ready');

  return {
    ctx,
    workers,
    metricsUrl: metricsServer?.url ?? null,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await metricsServer?.close();
      await Promise.all([ctx.jobs.close(), common.connection.quit().catch(() => undefined)]);
      await connection.quit().catch(() => undefined);
      ctx.store.etcd.close();
    },
  };
}
