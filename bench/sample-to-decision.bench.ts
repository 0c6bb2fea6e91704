import { EngineHarness, sleep, waitFor, webServiceConfig } from '../test/support/engine-harness';

/**
 * Time from a sample written to etcd to the state machine's decision record (armed / disarmed), over real
 * processes: `dynamite run` (scheduler + worker), etcd watch, BullMQ check job, etcd transaction.
 * Prints JSON: { samples, median_ms, p90_ms, p99_ms, worst_ms }.
 */
export async function run(samples = Number(process.env.BENCH_SAMPLES ?? 200)): Promise<Record<string, number>> {
  const h = await EngineHarness.start({ suite: 'bench-sample', ...webServiceConfig({ min: 1, max: 2, upPeriod: 600, downPeriod: 600, cooldown: 1, reconcile: 30 }) });
  const latencies: number[] = [];
  try {
    h.spawn('run');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance', h);
    await h.sample('webserver', 'bench', 'cpu_user', 50);
    await waitFor(async () => (await h.etcd.get('/_dynamite/policy/web/web_up/machine/bench').string()) !== null, 10_000, 'machine', h);
    // The record's arrival is observed with an etcd watch, not by polling.
    const watcher = await h.etcd.watch().prefix('/_dynamite/decisions/web/').create();
    let next: (() => void) | null = null;
    watcher.on('put', () => { next?.(); next = null; });
    for (let i = 0; i < samples; i += 1) {
      const value = i % 2 === 0 ? 99 : 50; // alternately arms and disarms the scale-up machine
      const recorded = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no record for sample ${i}`)), 10_000);
        next = () => { clearTimeout(timer); resolve(); };
      });
      const written = Date.now();
      await h.sample('webserver', 'bench', 'cpu_user', value);
      await recorded;
      latencies.push(Date.now() - written);
      await sleep(20);
    }
    await watcher.cancel();
  } finally {
    await h.stop();
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { samples: latencies.length, median_ms: at(0.5), p90_ms: at(0.9), p99_ms: at(0.99), worst_ms: latencies[latencies.length - 1]! };
}

if (require.main === module) {
  run().then((r) => { process.stdout.write(`${JSON.stringify(r)}\n`); process.exit(0); }, (err) => { process.stderr.write(`${String(err)}\n`); process.exit(1); });
}
