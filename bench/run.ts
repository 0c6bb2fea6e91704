import fs from 'node:fs';
import path from 'node:path';
import { run as emulator } from './fleet-emulator.bench';
import { run as sampleToDecision } from './sample-to-decision.bench';
import { run as expiryToAction } from './expiry-to-action.bench';
import { runScale } from './scale.bench';
import { reaction } from './scale/reaction';
import { idle } from './scale/idle';

/**
 * Every benchmark in turn (`npm run bench`, about 15 minutes; `npm run bench -- --quick`, under a minute with
 * small sizes): prints a table of figures beside their targets and the limit measured in the same run, and writes
 * the raw JSON to bench/results/.
 */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const started = Date.now();
  const results: Record<string, unknown> = {};
  const step = async (name: string, work: () => Promise<unknown>) => {
    const t = Date.now();
    process.stderr.write(`bench: ${name} ...\n`);
    results[name] = await work();
    process.stderr.write(`bench: ${name} done in ${((Date.now() - t) / 1000).toFixed(0)} s: ${JSON.stringify(results[name])}\n`);
  };
  if (!quick) {
    await step('fleet-emulator', () => emulator());
    await step('sample-to-decision', () => sampleToDecision(200));
    await step('expiry-to-action', () => expiryToAction(50));
  }
  await step('reaction', () => reaction(quick ? { services: 10, rounds: 1, concurrency: 64 } : { services: 100, rounds: 2, concurrency: 64 }));
  await step('scale', () => runScale(quick
    // A smoke test of every step: small sizes, short windows, a 2 s lock (the worker-kill step waits it out).
    ? { services: 20, steadySeconds: 3, ingestionSeconds: 1, workers: 1, concurrency: 64, actions: 8, lockMs: 2_000 }
    : { services: 1000, steadySeconds: 300, ingestionSeconds: 10, workers: 1, concurrency: 64, actions: 500 }));
  await step('idle', () => idle(quick ? { services: 200, seconds: 3, settleSeconds: 1 } : { services: 10_000, seconds: 60, settleSeconds: 10 }));
  const report = { date: new Date().toISOString(), quick, seconds: Math.round((Date.now() - started) / 1000), results };
  const dir = path.resolve(__dirname, '..', '..', 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-${quick ? 'quick-' : ''}${report.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${table(results)}\nraw figures: ${path.relative(process.cwd(), file)} (${report.seconds} s)\n`);
}

type Row = [figure: string, value: string, target: string];

function table(results: Record<string, unknown>): string {
  const r = results as Record<string, Record<string, any>>;
  const rows: Row[] = [];
  const scale = r['scale'];
  if (scale) {
    const { bootstrap, ingestion, steady, actuation, recovery } = scale;
    rows.push([`bootstrap: ${bootstrap.units} units launched`, `${bootstrap.seconds} s`, '< 60 s at 2,000 units']);
    rows.push(['ingestion: evaluated / raw put rate', `${ingestion.evaluated_per_s}/s / ${ingestion.raw_puts_per_s}/s = ${ingestion.ratio_to_raw}`, '>= 0.9']);
    rows.push(['ingestion: drained after the writers stopped', `${ingestion.drained_s} s`, '<= 2 s']);
    rows.push([`steady: ${steady.samples_per_s} samples/s, evaluated/written`, `${steady.evaluated}/${steady.written}`, 'all']);
    rows.push(['steady: watch lag p50 / p99', `${steady.lag_p50_ms} / ${steady.lag_p99_ms} ms`, 'p99 < 1 s']);
    rows.push(['steady: engine cores (scheduler + workers)', String(steady.engine_cores), '< 0.5']);
    rows.push(['steady: etcd / Redis / emulator cores', `${steady.etcd_cores} / ${steady.redis_cores} / ${steady.emulator_cores}`, '(reported)']);
    rows.push(['steady: engine RSS first / second half', `${steady.rss_mb_first_half} / ${steady.rss_mb_second_half} MB`, 'flat']);
    rows.push(['steady: Redis used_memory start / mid / end', `${steady.redis_used_mb_start} / ${steady.redis_used_mb_mid} / ${steady.redis_used_mb_end} MB`, 'flat (mid = end)']);
    rows.push(['steady: etcd keys mid / end', `${steady.etcd_keys_mid} / ${steady.etcd_keys_end}`, 'flat']);
    rows.push(['steady: etcd revisions / Redis commands per sample', `${steady.etcd_writes_per_sample} / ${steady.redis_commands_per_sample}`, '(reported)']);
    rows.push([`actuation: ${actuation.actions} scale ups, engine / plain loop`, `${actuation.engine_per_s}/s / ${actuation.plain_loop_per_s}/s = ${actuation.ratio_to_plain}`, '>= 0.5']);
    rows.push(['actuation: fleet calls per action', String(actuation.fleet_calls_per_action), '(reported)']);
    rows.push(['recovery: scheduler restart -> first sample evaluated', `${recovery.scheduler_restart_to_first_evaluation_ms} ms`, '(reported)']);
    rows.push([`recovery: FLUSHALL -> ${recovery.timers} armed timers back`, `${recovery.flushall_to_timers_back_ms} ms`, '(reported)']);
    rows.push(['recovery: worker SIGKILL mid-action -> done by another', `${recovery.worker_sigkill_to_actions_done_ms} ms`, `(reported; lock ${recovery.lock_ms / 1000} s)`]);
    rows.push(['SIGTERM stop: scheduler / emulator', `${scale.sigterm_stop_ms.scheduler} / ${scale.sigterm_stop_ms.emulator} ms`, '< 10 s']);
  }
  const re = r['reaction'];
  if (re) {
    rows.push([`reaction: expiry -> fleet PUT (${re.expiries} expiries) p50 / p90 / p99`, `${re.to_put_median_ms} / ${re.to_put_p90_ms} / ${re.to_put_p99_ms} ms`, 'p90 <= 50, p99 <= 100 ms']);
    rows.push(['reaction: expiry -> units launched p50 / p90 / p99', `${re.to_launched_median_ms} / ${re.to_launched_p90_ms} / ${re.to_launched_p99_ms} ms`, '(reported)']);
    rows.push([`reaction limit: ${re.services} etcd transactions at once, p50 / p90`, `${re.etcd_concurrent_txn_p50_ms} / ${re.etcd_concurrent_txn_p90_ms} ms`, '(limit, same run)']);
  }
  const id = r['idle'];
  if (id) {
    rows.push([`idle: ${id.services} services, no samples: scheduler + worker cores`, String(id.engine_cpu_core), id.services >= 10_000 ? '< 0.1 (stretch)' : '(reported)']);
    rows.push([`idle: start to Running, stored config`, `${id.startup_s} s, ${Math.round(id.stored_config_bytes / 1024)} KB`, '(reported)']);
  }
  for (const name of ['sample-to-decision', 'expiry-to-action']) {
    const b = r[name];
    if (b) rows.push([`${name} (one service) median / p90`, `${b.median_ms} / ${b.p90_ms} ms`, '(reported)']);
  }
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length), ['figure', 'measured', 'target'][i]!.length));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(['figure', 'measured', 'target']), ...rows.map(line)].join('\n');
}

main().then(() => process.exit(0), (err) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
