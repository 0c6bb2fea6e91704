import { Command, Option } from 'commander';
import { ConfigLoadError, EngineMetrics, createLogger } from '@dynamite/engine';
import { DEFAULT_HTTP, HttpConfigError, checkBind, credentialsFromEnv, parseHttpFlag, publicReadsFromEnv, type HttpBind } from '@dynamite/operator';
import { startScheduler } from '@dynamite/scheduler';
import { startWorker } from '@dynamite/worker';
import { RedisConnectError } from '@dynamite/queues';
import { EtcdOptionError, explainEtcdError } from '@dynamite/store';
import { UsageError } from '../errors';
import { addEngineOptions, type CommonOptions } from '../options';
import {
  addEtcdSecurityOptions, addLeadershipOptions, etcdConnection, fleetEndpointExplicit, leadershipOptions, redisUrlOf, untilSignal, type EtcdSecurityOptions, type LeadershipFlags,
} from '../daemon-options';

type EngineFlags = CommonOptions & EtcdSecurityOptions & LeadershipFlags & { concurrency: string; action_concurrency: string; lock_duration: string; http?: string; http_public_reads?: boolean; metrics?: string; dry_run?: boolean };

function addDryRunOption(cmd: Command): Command {
  return cmd.addOption(new Option('--dry_run', 'evaluate and record every decision as dry_run, act on none: nothing reaches fleet (stored in etcd by the leading scheduler, so every worker follows it)'));
}

function addWorkerOptions(cmd: Command): Command {
  cmd.addOption(new Option('--concurrency <n>', 'check jobs and period expiries processed at once (they wait on etcd and Redis)').env('DYNAMITE_CONCURRENCY').default('64'));
  cmd.addOption(new Option('--action_concurrency <n>', 'fleet actions carried out at once (they mostly wait on fleet)').env('DYNAMITE_ACTION_CONCURRENCY').default('256'));
  cmd.addOption(new Option('--lock_duration <ms>', 'ms a job stays locked without heartbeat before another worker takes it over').env('DYNAMITE_LOCK_DURATION').default('30000'));
  return cmd;
}

function addHttpOption(cmd: Command): Command {
  cmd.addOption(new Option('--http <host:port>', 'operator listener: Bull Board, /api, /metrics, /healthz, /readyz ("off" disables; non-loopback needs DYNAMITE_HTTP_USER and DYNAMITE_HTTP_PASSWORD)').env('DYNAMITE_HTTP').default(DEFAULT_HTTP));
  return cmd.addOption(new Option('--http_public_reads', 'with credentials set, serve /metrics and /api without them (the board and changes still need them)'));
}

/** `--http` as the scheduler needs it; a bad value or a non-loopback bind without credentials is a UsageError. */
function httpBind(flags: EngineFlags, cmd: Command): (HttpBind & { bestEffort: boolean; publicReads: boolean }) | null {
  try {
    const bind = parseHttpFlag(flags.http ?? DEFAULT_HTTP);
    if (bind) checkBind(bind, credentialsFromEnv());
    // The flag, or DYNAMITE_HTTP_PUBLIC_READS (read here so a bad value is one line before anything starts).
    const publicReads = flags.http_public_reads === true || publicReadsFromEnv();
    // Left at its default, a port in use (a second engine on this machine) is a warning; asked for, it is an error.
    const source = cmd.getOptionValueSource('http');
    return bind ? { ...bind, publicReads, bestEffort: source !== 'cli' && source !== 'env' } : null;
  } catch (err) {
    if (err instanceof HttpConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** etcd or Redis unusable at start (down, TLS, auth): one line naming the endpoint, exit code 1 (a supervisor retries). */
function unreachable(err: unknown, flags: EngineFlags): unknown {
  if (err instanceof EtcdOptionError) return new UsageError(err.message);
  if (err instanceof RedisConnectError) return new UsageError(err.message, 1);
  const etcd = explainEtcdError(err);
  if (etcd !== null) return new UsageError(`cannot use etcd at ${flags.etcd_endpoint}: ${etcd}`, 1);
  return err;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag}: must be a positive integer (got "${value}")`);
  return n;
}

async function runScheduler(flags: EngineFlags, cmd: Command, metrics?: EngineMetrics) {
  const http = httpBind(flags, cmd);
  const leadership = leadershipOptions(flags);
  const redisUrl = redisUrlOf(flags);
  try {
    return await startScheduler({
      configFile: flags.config_file,
      serviceFolders: flags.service_folder,
      etcd: etcdConnection(flags),
      redisUrl,
      queuePrefix: flags.queue_prefix,
      fleetEndpoint: flags.fleet_endpoint,
      fleetEndpointExplicit: fleetEndpointExplicit(cmd),
      http,
      metrics,
      dryRun: flags.dry_run === true,
      ...leadership,
    });
  } catch (err) {
    if (err instanceof ConfigLoadError || err instanceof HttpConfigError) throw new UsageError(err.message);
    throw unreachable(err, flags);
  }
}

/** `dynamite worker --metrics host:port`: the worker's own /metrics and /healthz (read-only; off by default). */
function metricsBind(flags: EngineFlags): HttpBind | null {
  try {
    return flags.metrics === undefined ? null : parseHttpFlag(flags.metrics, '--metrics');
  } catch (err) {
    if (err instanceof HttpConfigError) throw new UsageError(err.message);
    throw err;
  }
}

async function runWorker(flags: EngineFlags, cmd: Command, metrics?: EngineMetrics) {
  if (flags.dry_run !== undefined && cmd.name() === 'worker') {
    throw new UsageError('--dry_run is a scheduler flag: give it to `dynamite scheduler` (or `dynamite run`); the leading scheduler stores it in etcd and every worker follows it');
  }
  const lock = positiveInt(flags.lock_duration, '--lock_duration');
  const metricsListen = metricsBind(flags);
  try {
    return await startWorker({
      etcd: etcdConnection(flags),
      redisUrl: redisUrlOf(flags),
      queuePrefix: flags.queue_prefix,
      fleetEndpoint: flags.fleet_endpoint,
      fleetEndpointExplicit: fleetEndpointExplicit(cmd),
      concurrency: positiveInt(flags.concurrency, '--concurrency'),
      actionConcurrency: positiveInt(flags.action_concurrency, '--action_concurrency'),
      lockDurationMs: lock,
      stalledIntervalMs: Math.max(500, Math.floor(lock / 2)),
      metrics,
      metricsListen,
    });
  } catch (err) {
    throw unreachable(err, flags);
  }
}

/**
 * Everything is closed: exit even if a client library still holds a timer (etcd3 keeps retrying a watch stream
 * it lost before the stop), so a stopped engine never lingers. Unref'd: a clean exit comes first.
 */
function exitSoon(): void {
  setTimeout(() => process.exit(process.exitCode ?? 0), 1_000).unref();
}

/**
 * How long a stop may take once signalled: a close that waits on a server that went away (etcd gone: the etcd3
 * client retries without end) must not keep the process alive; the jobs it leaves are taken over by others.
 */
const STOP_DEADLINE_MS = 8_000;

function exitAtStopDeadline(): void {
  setTimeout(() => {
    process.stderr.write(`dynamite: the stop did not finish within ${STOP_DEADLINE_MS / 1000} s (a server unreachable?); exiting\n`);
    process.exit(process.exitCode ?? 1);
  }, STOP_DEADLINE_MS).unref();
}

/** Starts a daemon, runs it until SIGTERM/SIGINT, closes it and exits. */
async function serveUntilSignal(start: () => Promise<{ close(): Promise<void>; reload?: () => Promise<unknown> }>): Promise<void> {
  const running = await start();
  const stopHangup = onHangup(running.reload);
  await untilSignal();
  stopHangup();
  exitAtStopDeadline();
  await running.close();
  exitSoon();
}

/**
 * SIGHUP: a scheduler re-reads the config file it was started with and applies it (docs/hot-reload.md); a worker has
 * no file and ignores it. Either way it no longer ends the process, as it would by default.
 */
function onHangup(reload: (() => Promise<unknown>) | undefined): () => void {
  const log = createLogger(reload ? 'scheduler' : 'worker');
  const on = () => {
    if (!reload) {
      log.info('SIGHUP: a worker has no config file to re-read (it follows the stored config); ignored');
      return;
    }
    reload().catch((err: unknown) => log.error({ err: String(err) }, 'SIGHUP: could not reload the config'));
  };
  process.on('SIGHUP', on);
  return () => { process.off('SIGHUP', on); };
}

export function register(program: Command): void {
  const scheduler = new Command('scheduler')
    .description('watch samples in etcd and turn them and timer expiries into jobs; bring services to min_instance (run two or more: one leads, the others stand by)');
  addDryRunOption(addLeadershipOptions(addHttpOption(addEtcdSecurityOptions(addEngineOptions(scheduler)))));
  scheduler.action((flags: EngineFlags, cmd: Command) => serveUntilSignal(() => runScheduler(flags, cmd)));

  const worker = new Command('worker').description('process policy checks and fleet actions (run as many as you like)');
  addWorkerOptions(addEtcdSecurityOptions(addEngineOptions(worker)));
  worker.addOption(new Option('--metrics <host:port>', "serve this worker's /metrics and /healthz (read-only; off by default)").env('DYNAMITE_WORKER_METRICS'));
  // Refused with a clear word: a dry run is the engine's, set on the scheduler (a worker of its own would disagree with the others).
  worker.addOption(new Option('--dry_run').hideHelp());
  worker.action((flags: EngineFlags, cmd: Command) => serveUntilSignal(() => runWorker(flags, cmd)));

  const run = new Command('run').description('scheduler and one worker in one process: the simple single-machine way');
  addDryRunOption(addLeadershipOptions(addHttpOption(addWorkerOptions(addEtcdSecurityOptions(addEngineOptions(run))))));
  run.action(async (flags: EngineFlags, cmd: Command) => {
    const log = createLogger('run');
    // One registry for both, so /metrics shows the worker's counters too.
    const metrics = new EngineMetrics();
    const sched = await runScheduler(flags, cmd, metrics);
    const work = await runWorker(flags, cmd, metrics).catch(async (err: unknown) => {
      await sched.close();
      throw err;
    });
    log.info('dynamite running (scheduler + worker)');
    const stopHangup = onHangup(() => sched.reload());
    await untilSignal();
    stopHangup();
    exitAtStopDeadline();
    await work.close();
    await sched.close();
    exitSoon();
  });

  program.addCommand(scheduler);
  program.addCommand(worker);
  program.addCommand(run);
}
