import { Command, Option } from 'commander';
import { ConfigLoadError, startScheduler } from '@dynamite/scheduler';
import { createLogger, startWorker } from '@dynamite/worker';
import { UsageError } from '../errors';
import { addEngineOptions, type CommonOptions } from '../options';
import { addEtcdSecurityOptions, etcdConnection, fleetEndpointExplicit, untilSignal, type EtcdSecurityOptions } from '../engine-options';

type EngineFlags = CommonOptions & EtcdSecurityOptions & { concurrency: string; lock_duration: string; http?: string };

function addWorkerOptions(cmd: Command): Command {
  cmd.addOption(new Option('--concurrency <n>', 'jobs processed at once per queue').env('DYNAMITE_CONCURRENCY').default('4'));
  cmd.addOption(new Option('--lock_duration <ms>', 'ms a job stays locked without heartbeat before another worker takes it over').env('DYNAMITE_LOCK_DURATION').default('30000'));
  return cmd;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag}: must be a positive integer (got "${value}")`);
  return n;
}

async function runScheduler(flags: EngineFlags, cmd: Command) {
  try {
    return await startScheduler({
      configFile: flags.config_file,
      serviceFolders: flags.service_folder,
      etcd: etcdConnection(flags),
      redisUrl: flags.redis_url,
      queuePrefix: flags.queue_prefix,
      fleetEndpoint: flags.fleet_endpoint,
      fleetEndpointExplicit: fleetEndpointExplicit(cmd),
    });
  } catch (err) {
    if (err instanceof ConfigLoadError) throw new UsageError(err.message);
    throw err;
  }
}

async function runWorker(flags: EngineFlags, cmd: Command) {
  const lock = positiveInt(flags.lock_duration, '--lock_duration');
  return startWorker({
    etcd: etcdConnection(flags),
    redisUrl: flags.redis_url,
    queuePrefix: flags.queue_prefix,
    fleetEndpoint: flags.fleet_endpoint,
    fleetEndpointExplicit: fleetEndpointExplicit(cmd),
    concurrency: positiveInt(flags.concurrency, '--concurrency'),
    lockDurationMs: lock,
    stalledIntervalMs: Math.max(500, Math.floor(lock / 2)),
  });
}

export function register(program: Command): void {
  const scheduler = new Command('scheduler')
    .description('watch samples in etcd and turn them and timer expiries into jobs; bring services to min_instance');
  addEtcdSecurityOptions(addEngineOptions(scheduler));
  scheduler.action(async (flags: EngineFlags, cmd: Command) => {
    const running = await runScheduler(flags, cmd);
    await untilSignal();
    await running.close();
  });

  const worker = new Command('worker').description('process policy checks and fleet actions (run as many as you like)');
  addWorkerOptions(addEtcdSecurityOptions(addEngineOptions(worker)));
  worker.action(async (flags: EngineFlags, cmd: Command) => {
    const running = await runWorker(flags, cmd);
    await untilSignal();
    await running.close();
  });

  const run = new Command('run').description('scheduler and one worker in one process: the simple single-machine way');
  addWorkerOptions(addEtcdSecurityOptions(addEngineOptions(run)));
  run.action(async (flags: EngineFlags, cmd: Command) => {
    const log = createLogger('run');
    const sched = await runScheduler(flags, cmd);
    const work = await runWorker(flags, cmd);
    log.info('dynamite running (scheduler + worker)');
    await untilSignal();
    await work.close();
    await sched.close();
  });

  program.addCommand(scheduler);
  program.addCommand(worker);
  program.addCommand(run);
}
