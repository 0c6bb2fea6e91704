import fs from 'node:fs';
import path from 'node:path';
import { ScaleStack, until, type ScaleConfig } from './scale/stack';
import { engineActionRate, plainLoopRate } from './scale/actuation';
import { flushallToTimersBack, restartToFirstEvaluation, workerKillToActionsDone } from './scale/recovery';
import { ingestion, machinesOf, steady, warmUp } from './scale/steady';

/**
 * Fleet scale (`node dist/bench/scale.bench.js [--services N] [--seconds S] [--quick]`): S services with
 * min_instance 2 brought up from nothing, then the ingestion limit, then a steady sample load. Prints a table and
 * writes raw JSON under bench/results/.
 */
export interface ScaleOptions {
  services: number;
  steadySeconds: number;
  ingestionSeconds: number;
  workers: number;
  concurrency: number;
  /** Scale actions in the actuation step (spread over that many services). */
  actions: number;
  /** Workers' job lock (ms): a SIGKILLed worker's jobs are taken over once it lapses (the recovery step). */
  lockMs?: number;
}

export async function runScale(opts: ScaleOptions): Promise<Record<string, unknown>> {
  // Samples are kept 2 minutes (the default is 10): within a 5-minute run the sample GC then holds etcd's key count
  // flat over the second half, which is what the steady step shows.
  const config: ScaleConfig = { services: opts.services, min: 2, max: 4, periodS: 30, cooldownS: 60, upThreshold: 90, downThreshold: 10, reconcileS: 30, retentionS: 120 };
  const startedAt = Date.now();
  const lockMs = opts.lockMs ?? 5_000;
  const stack = await ScaleStack.start(config);
  const out: Record<string, unknown> = { services: opts.services, workers: opts.workers, concurrency: opts.concurrency };
  // Where the run's time goes, step by step (s): the quick run must stay a quick smoke test.
  const stepSeconds: Record<string, number> = {};
  let stepStarted = Date.now();
  const stepDone = (name: string) => { stepSeconds[name] = Number(((Date.now() - stepStarted) / 1000).toFixed(1)); stepStarted = Date.now(); };
  out['step_seconds'] = stepSeconds;
  stepSeconds['stack_start'] = Number(((Date.now() - startedAt) / 1000).toFixed(1));
  try {
    // Bootstrap: from an empty etcd and fleet to 2 units a service launched.
    const started = Date.now();
    const sched = await stack.scheduler();
    stepDone('scheduler_start');
    const workers = [];
    // A short lock, so a SIGKILLed worker's jobs are taken over in seconds (the recovery step measures it).
    for (let i = 0; i < opts.workers; i += 1) workers.push(await stack.worker(['--concurrency', String(opts.concurrency), '--lock_duration', String(lockMs)]));
    const target = opts.services * config.min;
    await until(async () => (await stack.fleet.listUnitStates()).filter((s) => s.systemdActiveState === 'active').length >= target ? true : null, 600_000, `${target} units active`, opts.services > 100 ? 1000 : 200);
    out['bootstrap'] = { units: target, seconds: Number(((Date.now() - started) / 1000).toFixed(1)) };
    process.stderr.write(`bootstrap: ${JSON.stringify(out['bootstrap'])}\n`);
    stepDone('bootstrap');

    const pids: Record<string, number> = { [sched.proc.name]: sched.proc.child.pid!, etcd: stack.etcdServer.pid!, emulator: stack.emulator.child.pid!, redis: stack.redisServer.pid! };
    for (const w of workers) pids[w.proc.name] = w.proc.child.pid!;
    const workerMetrics = workers.map((w) => w.metricsUrl);
    const machines = machinesOf(opts.services, 2);

    await warmUp(stack, machines);
    stepDone('warm_up');
    out['ingestion'] = await ingestion(stack, machines, workerMetrics, opts.ingestionSeconds);
    process.stderr.write(`ingestion: ${JSON.stringify(out['ingestion'])}\n`);
    stepDone('ingestion');
    out['steady'] = await steady(stack, machines, pids, workerMetrics, opts.steadySeconds);
    process.stderr.write(`steady: ${JSON.stringify(out['steady'])}\n`);
    stepDone('steady');

    // Actuation: the emulator's own limit (a plain client loop), then the engine's rate on the same kind of units.
    const plain = await plainLoopRate(stack, opts.actions);
    stepDone('actuation_plain');
    let scheduler = sched;
    const restartWith = async (configFile: string) => {
      await stack.stopProcess(scheduler.proc);
      scheduler = await stack.scheduler(['-c', configFile]);
    };
    const engine = await engineActionRate(stack, opts.actions, restartWith);
    stepDone('actuation_engine');
    out['actuation'] = {
      actions: opts.actions, plain_loop_per_s: Number(plain.toFixed(1)), engine_per_s: Number(engine.rate.toFixed(1)),
      ratio_to_plain: Number((engine.rate / plain).toFixed(2)), fleet_calls_per_action: Number(engine.fleetCallsPerAction.toFixed(1)),
    };
    process.stderr.write(`actuation: ${JSON.stringify(out['actuation'])}\n`);

    // Recovery at scale.
    const restartMs = await restartToFirstEvaluation(stack, machines[0]!, () => restartWith(stack.configFile));
    stepDone('recovery_restart');
    const flush = await flushallToTimersBack(stack, machines.filter((_, i) => i % 2 === 0).slice(0, Math.min(200, machines.length)));
    stepDone('recovery_flushall');
    const second = await stack.worker(['--concurrency', String(opts.concurrency), '--lock_duration', String(lockMs)]);
    const killed = await workerKillToActionsDone(stack, {
      count: 5,
      victim: workers[0]!,
      startActions: async () => {
        // Five more instances on five services: a scheduler restart with their min_instance raised again.
        const fs = await import('node:fs');
        const raised = stack.configFile.replace(/\.yaml$/, '.raised.yaml');
        const text = fs.readFileSync(raised, 'utf8');
        let n = 0;
        fs.writeFileSync(raised, text.replace(/min_instance: 3\n/g, (m) => (n++ < 5 ? 'min_instance: 4\n' : m)));
        await restartWith(raised);
      },
    });
    workers.push(second);
    stepDone('recovery_worker_kill');
    out['recovery'] = { scheduler_restart_to_first_evaluation_ms: restartMs, flushall_to_timers_back_ms: flush.ms, timers: flush.timers, worker_sigkill_to_actions_done_ms: killed, lock_ms: lockMs };
    process.stderr.write(`recovery: ${JSON.stringify(out['recovery'])}\n`);

    // Stopped together, each timed from its own SIGTERM.
    const stops: Record<string, number> = {};
    const named: [string, import('./scale/stack').Proc][] = [...workers.slice(1).map((w) => [w.proc.name, w.proc] as [string, import('./scale/stack').Proc]), ['scheduler', scheduler.proc], ['emulator', stack.emulator]];
    await Promise.all(named.map(async ([name, proc]) => { stops[name] = await stack.stopProcess(proc); }));
    out['sigterm_stop_ms'] = stops;
    stepDone('stops');
  } finally {
    await stack.stop();
    stepDone('teardown');
  }
  return out;
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  const opts: ScaleOptions = {
    services: flag('services', quick ? 100 : 1000),
    steadySeconds: flag('seconds', quick ? 15 : 300),
    ingestionSeconds: flag('ingestion', quick ? 3 : 10),
    workers: flag('workers', 1),
    concurrency: flag('concurrency', 64),
    actions: flag('actions', quick ? 25 : 500),
  };
  runScale(opts).then((result) => {
    const dir = path.resolve(__dirname, '..', '..', 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\nwritten to ${file}\n`);
    process.exit(0);
  }, (err) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
}
