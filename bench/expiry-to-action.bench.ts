import { EngineHarness, sleep, waitFor, webServiceConfig } from '../test/support/engine-harness';
import { startRecordingProxy } from './scale/recording-proxy';

/**
 * Time from a period timer's expiry to fleet receiving the first PUT of the action it decided, over real processes:
 * `dynamite run` against the fleet emulator, with a recording proxy in front of the emulator.
 * Prints JSON: { runs, median_ms, p90_ms, worst_ms, best_ms }.
 */
export async function run(runs = Number(process.env.BENCH_RUNS ?? 50)): Promise<Record<string, number>> {
  const h = await EngineHarness.start({ suite: 'bench-expiry', ...webServiceConfig({ min: 1, max: runs + 2, upPeriod: 0.5, cooldown: 0.001, reconcile: 30 }) });
  const proxy = await startRecordingProxy(h.emulator.url);
  const { firstPut } = proxy;
  const proxyUrl = proxy.url;
  const latencies: number[] = [];
  try {
    h.spawn('run', ['-f', proxyUrl]);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance', h);
    for (let i = 0; i < runs; i += 1) {
      const uuid = `bench-${i}`;
      await h.register('webserver', uuid, 'web@8080.service');
      const before = new Set((await h.actions('web')).map((a) => a.decisionId));
      let action: { decisionId: string; instance: string; dueAt?: number } | undefined;
      while (!action) {
        await h.sample('webserver', uuid, 'cpu_user', 99);
        await sleep(100);
        action = (await h.actions('web')).find((a) => !before.has(a.decisionId)) as typeof action;
      }
      const put = await waitFor(async () => firstPut.get(action!.instance), 20_000, `PUT of ${action.instance}`, h);
      const record = await h.etcd.get(`/_dynamite/actions/web/${action.decisionId}`).json() as { dueAt: number };
      latencies.push(put - record.dueAt);
      // let any second fire of this machine land before the next run starts
      await sleep(150);
    }
  } finally {
    proxy.close();
    await h.stop();
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { runs: latencies.length, median_ms: at(0.5), p90_ms: at(0.9), worst_ms: latencies[latencies.length - 1]!, best_ms: latencies[0]! };
}

if (require.main === module) {
  run().then((r) => { process.stdout.write(`${JSON.stringify(r)}\n`); process.exit(0); }, (err) => { process.stderr.write(`${String(err)}\n`); process.exit(1); });
}
