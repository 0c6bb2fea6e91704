import { Etcd3 } from 'etcd3';
import { LoadGenerator } from '../load-generator';
import { buildPhases, phaseAt } from '../phases';
import { readRuntime } from './runtime';

/**
 * Endless demo traffic for deployments (docker-compose's `demo` profile): the demo's phases (quiet, ramp up, peak,
 * ramp down, quiet) over and over, round-robin over the web server instances registered in etcd.
 *   node apps/demo/dist/units/traffic.js <runtime.json> [cycle seconds, default 120] [peak req/s, default 140]
 * It must share the web servers' network (they listen on 127.0.0.1): run it next to the fleet emulator.
 */
const runtime = readRuntime(process.argv[2]);
const cycleS = Number(process.argv[3] ?? 120);
const peakRate = Number(process.argv[4] ?? 140);
if (!(cycleS >= 10) || !(peakRate > 0)) {
  process.stderr.write('usage: traffic.js <runtime.json> [cycle seconds >= 10] [peak req/s > 0]\n');
  process.exit(2);
}

const etcd = new Etcd3({ hosts: runtime.etcdHosts, dialTimeout: 5000 });
const phases = buildPhases(cycleS, { quietRate: 4, peakRate });
const started = performance.now();
const elapsed = () => ((performance.now() - started) / 1000) % cycleS;
const load = new LoadGenerator(etcd, `${runtime.applicationBase}/${runtime.serviceType}/`, () => phaseAt(phases, elapsed()).rate);

async function main(): Promise<void> {
  for (;;) {
    try {
      await load.start();
      break;
    } catch (err) {
      process.stdout.write(`waiting for etcd: ${err instanceof Error ? err.message : String(err)}\n`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  setInterval(() => {
    const s = load.snapshot();
    const p = phaseAt(phases, elapsed());
    process.stdout.write(
      `${new Date().toISOString()} ${p.phase?.name ?? '-'}: ${s.offeredRps.toFixed(0)} req/s offered, ${s.servedRps} served/s, ` +
        `${s.targets.length} instances [${s.targets.map((t) => t.port).join(' ')}], totals ok ${s.ok} shed ${s.rejected} failed ${s.failed}\n`,
    );
  }, 5000);
}

const stop = () => {
  void load.stop().finally(() => {
    etcd.close();
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
void main();
