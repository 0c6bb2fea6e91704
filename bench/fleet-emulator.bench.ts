import { spawn } from 'node:child_process';
import http from 'node:http';
import { startFleetEmulator } from '@dynamite/fleet-emulator';
import { DYNAMITE_BIN, REPO_ROOT } from '../test/support/engine-harness';
import { freePort, waitForPort } from '../test/support/ports';
import { processesRunning } from '../test/fleet-emulator/support';
import { procUsage } from './scale/stack';

/**
 * The fleet emulator's own speed:
 * - PUT create+launch per second: `PUT /fleet/v1/units/{name}` with desiredState launched and a trivial
 *   `ExecStart=/bin/sleep 600`, 8 requests in flight; also the time until every one of them runs, and the
 *   rate of creates that start nothing (desiredState inactive) for comparison.
 * - `GET /fleet/v1/units` latency (one page of 100, and the whole list of 10 pages) with 1,000 units.
 * Prints JSON when run alone: `node dist/bench/fleet-emulator.bench.js`.
 *
 * `--units N` instead runs `dynamite fleet-emulator` as its own process (3 machines, agent lag 0, as the scale
 * bench does) and creates+launches N units 64 PUTs in flight (the engine's action concurrency): the slowest PUT,
 * the time until every unit runs, the emulator's CPU idle with N units, a PUT's latency then, 100 more units
 * launched one PUT at a time then waited for (the scale bench's plain loop), and the time a
 * SIGTERM takes to stop it all (every unit process gone). `--cpu-prof DIR` writes the emulator's V8 CPU profile.
 */

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function request(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const round = (n: number) => Math.round(n * 100) / 100;

export async function run(): Promise<Record<string, number>> {
  const launchCount = Number(process.env.BENCH_LAUNCH_UNITS ?? 200);
  const totalUnits = Number(process.env.BENCH_TOTAL_UNITS ?? 1000);
  const samples = Number(process.env.BENCH_SAMPLES ?? 200);
  const emulator = await startFleetEmulator({ stopTimeoutMs: 2000, agentLagMs: 0 }); // fast mode: the emulator's own speed
  const port = emulator.port;
  try {
    // PUT create+launch.
    const names = Array.from({ length: launchCount }, (_, i) => `bench-${String(i).padStart(4, '0')}.service`);
    const body = (desiredState: string) => JSON.stringify({ desiredState, options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' }] });
    const started = performance.now();
    await inParallel(names, 8, async (name) => {
      const res = await request(port, 'PUT', `/fleet/v1/units/${name}`, body('launched'));
      if (res.status !== 201) throw new Error(`PUT ${name}: ${res.status} ${res.body}`);
    });
    const putSeconds = (performance.now() - started) / 1000;
    for (;;) {
      const states = await collect(port, '/fleet/v1/state', 'states');
      if (states.filter((s: any) => s.systemdSubState === 'running').length >= launchCount) break;
      if (performance.now() - started > 120_000) throw new Error('units did not all start within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const allRunningSeconds = (performance.now() - started) / 1000;

    // 1,000 units in the registry (the launched ones plus inactive ones).
    const more = Array.from({ length: totalUnits - launchCount }, (_, i) => `idle-${String(i).padStart(4, '0')}.service`);
    const createStarted = performance.now();
    await inParallel(more, 8, async (name) => { await request(port, 'PUT', `/fleet/v1/units/${name}`, body('inactive')); });
    const createSeconds = (performance.now() - createStarted) / 1000;
    const pageMs: number[] = [];
    const fullMs: number[] = [];
    for (let i = 0; i < samples; i++) {
      let t = performance.now();
      const res = await request(port, 'GET', '/fleet/v1/units');
      pageMs.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`GET /units: ${res.status}`);
      if (i % 4 === 0) {
        t = performance.now();
        const all = await collect(port, '/fleet/v1/units', 'units');
        fullMs.push(performance.now() - t);
        if (all.length !== totalUnits) throw new Error(`expected ${totalUnits} units, got ${all.length}`);
      }
    }
    pageMs.sort((a, b) => a - b);
    fullMs.sort((a, b) => a - b);
    return {
      launched_units: launchCount,
      put_create_launch_per_s: round(launchCount / putSeconds),
      all_running_after_s: round(allRunningSeconds),
      put_create_inactive_per_s: round(more.length / createSeconds),
      units_in_registry: totalUnits,
      get_units_page_median_ms: round(percentile(pageMs, 0.5)),
      get_units_page_p95_ms: round(percentile(pageMs, 0.95)),
      get_units_all_pages_median_ms: round(percentile(fullMs, 0.5)),
      get_units_all_pages_p95_ms: round(percentile(fullMs, 0.95)),
    };
  } finally {
    agent.destroy();
    await emulator.stop();
  }
}

async function collect(port: number, path: string, key: string): Promise<any[]> {
  const items: any[] = [];
  for (let token = ''; ;) {
    const page = JSON.parse((await request(port, 'GET', `${path}${token ? `?nextPageToken=${encodeURIComponent(token)}` : ''}`)).body);
    items.push(...(page[key] ?? []));
    if (!page.nextPageToken) return items;
    token = page.nextPageToken;
  }
}

export async function runProcess(units: number, cpuProfDir?: string): Promise<Record<string, number>> {
  const port = await freePort();
  const profile = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawn(process.execPath, [...profile, DYNAMITE_BIN, 'fleet-emulator', '--listen', `127.0.0.1:${port}`, '--machines', '3', '--agent_lag', '0'], {
    cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'], detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A sleep no other process on the machine runs: how the unit processes are found after the emulator is gone.
  const sleepArgv = ['/bin/sleep', String(86_400 + port)];
  const body = (desiredState: string) => JSON.stringify({ desiredState, options: [{ section: 'Service', name: 'ExecStart', value: sleepArgv.join(' ') }] });
  try {
    await waitForPort(port, 30_000);
    const names = Array.from({ length: units }, (_, i) => `load-${String(i).padStart(5, '0')}.service`);
    const putMs: number[] = [];
    const started = performance.now();
    await inParallel(names, 64, async (name) => {
      const t = performance.now();
      const res = await request(port, 'PUT', `/fleet/v1/units/${name}`, body('launched'));
      putMs.push(performance.now() - t);
      if (res.status !== 201) throw new Error(`PUT ${name}: ${res.status} ${res.body}`);
    });
    const putSeconds = (performance.now() - started) / 1000;
    for (;;) {
      const states = await collect(port, '/fleet/v1/state', 'states');
      if (states.filter((s: any) => s.systemdSubState === 'running').length >= units) break;
      if (performance.now() - started > 600_000) throw new Error(`units did not all start within 600 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const allRunningSeconds = (performance.now() - started) / 1000;
    const running = processesRunning(sleepArgv).length;

    // Idle: nothing asked of the emulator for 10 s.
    await new Promise((r) => setTimeout(r, 2000));
    const cpuBefore = procUsage(child.pid!)!.cpuS;
    const idleStarted = performance.now();
    await new Promise((r) => setTimeout(r, 10_000));
    const idleCore = (procUsage(child.pid!)!.cpuS - cpuBefore) / ((performance.now() - idleStarted) / 1000);

    // A few PUTs (create inactive, then destroy) against the loaded emulator, one at a time.
    const idlePutMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await request(port, 'PUT', `/fleet/v1/units/probe-${i}.service`, body('inactive'));
      idlePutMs.push(performance.now() - t);
    }
    idlePutMs.sort((a, b) => a - b);
    putMs.sort((a, b) => a - b);

    // The scale bench's plain loop: 100 more units created+launched one PUT at a time, then a wait for all.
    const sequentialStarted = performance.now();
    for (let i = 0; i < 100; i++) {
      const res = await request(port, 'PUT', `/fleet/v1/units/seq-${i}.service`, body('launched'));
      if (res.status !== 201) throw new Error(`PUT seq-${i}: ${res.status} ${res.body}`);
    }
    for (;;) {
      const states = await collect(port, '/fleet/v1/state', 'states');
      if (states.filter((s: any) => s.systemdSubState === 'running').length >= units + 100) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const sequentialPerS = 100 / ((performance.now() - sequentialStarted) / 1000);

    const stopStarted = performance.now();
    process.kill(child.pid!, 'SIGTERM');
    await exited;
    const stopSeconds = (performance.now() - stopStarted) / 1000;
    return {
      units,
      put_create_launch_per_s: round(units / putSeconds),
      put_p50_ms: round(percentile(putMs, 0.5)),
      put_p99_ms: round(percentile(putMs, 0.99)),
      put_max_ms: round(putMs[putMs.length - 1]),
      all_running_after_s: round(allRunningSeconds),
      unit_processes_running: running,
      idle_cpu_core: round(idleCore),
      idle_put_median_ms: round(percentile(idlePutMs, 0.5)),
      idle_put_max_ms: round(idlePutMs[idlePutMs.length - 1]),
      sequential_launch_per_s: round(sequentialPerS),
      sigterm_stop_s: round(stopSeconds),
      unit_processes_left: processesRunning(sleepArgv).length,
    };
  } finally {
    agent.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

if (require.main === module && flag('--units') !== undefined) {
  runProcess(Number(flag('--units')), flag('--cpu-prof')).then((r) => { process.stdout.write(`${JSON.stringify(r)}\n`); process.exit(0); }, (err) => { process.stderr.write(`${String(err)}\n`); process.exit(1); });
} else if (require.main === module) {
  run().then((r) => { process.stdout.write(`${JSON.stringify(r)}\n`); process.exit(0); }, (err) => { process.stderr.write(`${String(err)}\n`); process.exit(1); });
}
