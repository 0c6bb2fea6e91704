import { keys } from '@dynamite/domain';
import { ScaleStack, procUsage, redisInfo, sleep, until, type ScaleConfig } from './stack';

/**
 * Idle services (`node dist/bench/scale/idle.js [--services 10000] [--seconds 60]`): S services with
 * `min_instance: 0` and two policies each, no samples. The stretch target: scheduler + worker under 0.1 core while
 * nothing happens. Reports the start-up (config stored, every template written, status Running), then the CPU of
 * every process and the Redis commands the engine sends per second over the measured window.
 */
export async function idle(opts: { services: number; seconds: number; settleSeconds?: number }): Promise<Record<string, unknown>> {
  const config: ScaleConfig = { services: opts.services, min: 0, max: 2, periodS: 30, cooldownS: 60, upThreshold: 90, downThreshold: 10, reconcileS: 30 };
  const stack = await ScaleStack.start(config);
  try {
    const started = Date.now();
    const sched = await stack.scheduler();
    const worker = await stack.worker(['--concurrency', '64']);
    await until(async () => ((await stack.etcd.get(keys.applicationStatus).string()) === 'Running' ? true : null), 600_000, 'status Running', 500);
    const startupS = (Date.now() - started) / 1000;
    const storedBytes = (await stack.etcd.get(keys.applicationConfiguration).string())?.length ?? 0;
    // Let the start-up's own work (the first reconcile, the jobs it adds) finish before measuring.
    await sleep((opts.settleSeconds ?? 10) * 1000);
    const pids: Record<string, number> = { scheduler: sched.proc.child.pid!, worker: worker.proc.child.pid!, etcd: stack.etcdServer.pid!, redis: stack.redisServer.pid! };
    const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, procUsage(pid)]));
    const commandsBefore = (await redisInfo(stack)).commands;
    const t0 = Date.now();
    await sleep(opts.seconds * 1000);
    const elapsedS = (Date.now() - t0) / 1000;
    const commands = (await redisInfo(stack)).commands - commandsBefore;
    const cpu: Record<string, number> = {};
    const rssMb: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) {
      const after = procUsage(pid);
      const b = before[name];
      if (after && b) {
        cpu[name] = Number(((after.cpuS - b.cpuS) / elapsedS).toFixed(3));
        rssMb[name] = Math.round(after.rssMb);
      }
    }
    return {
      services: opts.services,
      startup_s: Number(startupS.toFixed(1)),
      stored_config_bytes: storedBytes,
      measured_s: Number(elapsedS.toFixed(0)),
      engine_cpu_core: Number(((cpu['scheduler'] ?? 0) + (cpu['worker'] ?? 0)).toFixed(3)),
      cpu_core: cpu,
      rss_mb: rssMb,
      redis_commands_per_s: Number((commands / elapsedS).toFixed(1)),
    };
  } finally {
    await stack.stop();
  }
}

if (require.main === module) {
  const flag = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  idle({ services: flag('services', 10_000), seconds: flag('seconds', 60) })
    .then((r) => { process.stdout.write(`${JSON.stringify(r, null, 2)}\n`); process.exit(0); })
    .catch((err) => { process.stderr.write(`${(err as Error).stack}\n`); process.exit(1); });
}
