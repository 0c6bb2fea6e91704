import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { keys } from '@dynamite/domain';
import { Children, killAllNow, sweepLeftovers, type ManagedChild } from './children';
import { chooseEtcd, chooseRedis, deleteRedisPrefix, type EtcdChoice, type RedisChoice } from './infra';
import { decisionLine, Screen, statusBlock, statusLine, type ViewInput } from './live-view';
import { LoadGenerator } from './load-generator';
import { DemoAbort, DemoError, freePort, freePortRange, waitFor } from './net';
import { Observer } from './observer';
import { DYNAMITE_BIN } from './paths';
import { buildPhases, phaseAt, type Phase } from './phases';
import { ATTACHED, renderDemo, type RenderedDemo } from './render';
import { formatSummary, summarize, verdict } from './summary';

export interface DemoOptions {
  /** Seconds of traffic (the phases); startup and shutdown come on top. Default 75. */
  durationS?: number;
  /** After the traffic, stay up (quiet traffic) until Ctrl-C. */
  keep?: boolean;
  /** etcd to use (`host:port`); default: 127.0.0.1:2379 when it answers and is unused, else a private one. */
  etcdEndpoint?: string;
  /** Redis to use; default: redis://127.0.0.1:6379 when it answers, else a private one. */
  redisUrl?: string;
  /** How many worker processes (default 2). */
  workers?: number;
  out?: NodeJS.WriteStream;
  /** Redraw in place (default: whether `out` is a terminal). */
  tty?: boolean;
  /** Keep the run dir (config, units, logs) after a successful run too. */
  keepLogs?: boolean;
}

export const DEMO_DEFAULTS = {
  durationS: 80,
  minDurationS: 40,
  workers: 2,
  /** Requests per second in the quiet phases and at the peak; one instance serves about 90 per second. */
  quietRate: 4,
  peakRate: 140,
  costMs: 10,
  workMs: 1,
} as const;

const STARTUP_TIMEOUT_MS = 90_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** `dynamite <args> --help` output ('' when it fails): used to see which commands and flags this build has. */
function helpOf(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(process.execPath, [DYNAMITE_BIN, ...args, '--help'], { timeout: 20_000 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
}

function describePhases(phases: Phase[]): string {
  return phases.map((p) => `${p.name} ${(p.endS - p.startS).toFixed(0)} s`).join(', ');
}

/**
 * `dynamite demo`: the real engine (a scheduler and two workers, as separate processes) scaling a small web
 * service that runs under the fleet emulator, driven by generated traffic. Returns the exit code: 0 when load
 * scaled the service up and back down, 1 when it did not (or something failed), 130 when interrupted.
 */
export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const tty = opts.tty ?? Boolean(out.isTTY);
  const durationS = opts.durationS ?? DEMO_DEFAULTS.durationS;
  const workers = opts.workers ?? DEMO_DEFAULTS.workers;
  if (!Number.isFinite(durationS) || durationS < DEMO_DEFAULTS.minDurationS) {
    throw new DemoError(`--duration must be at least ${DEMO_DEFAULTS.minDurationS} seconds (got ${durationS}): a scale up and a scale down need that much`, 2);
  }
  if (!Number.isInteger(workers) || workers < 1) throw new DemoError(`workers must be a positive integer (got ${workers})`, 2);

  const t0 = Date.now();
  const runId = randomBytes(3).toString('hex');
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `dynamite-demo-${runId}-`));
  const keyRoot = `/demo-${runId}`;
  const queuePrefix = `demo-${runId}`;
  const children = new Children(path.join(runDir, 'logs'));
  const abort = new AbortController();
  const screen = new Screen(out, tty);
  const say = (...lines: string[]) => screen.print(lines);

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      // A second Ctrl-C: no more waiting.
      killAllNow(children);
      process.exit(130);
    }
    interrupted = true;
    screen.clearBlock(true);
    out.write(`\n${signal}: stopping everything the demo started (Ctrl-C again to kill at once)\n`);
    abort.abort();
  };
  const onExit = () => killAllNow(children);
  // A closed terminal (EIO, EPIPE) must not stop the cleanup half way.
  const ignoreWriteErrors = () => undefined;
  out.on('error', ignoreWriteErrors);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', onExit);

  let etcdChoice: EtcdChoice | null = null;
  let redisChoice: RedisChoice | null = null;
  let etcd: Etcd3 | null = null;
  let rendered: RenderedDemo | null = null;
  let observer: Observer | null = null;
  let load: LoadGenerator | null = null;
  let emulator: ManagedChild | null = null;
  const engine: ManagedChild[] = [];
  let startupS = 0;
  let trafficS = 0;
  let trafficStarted = 0;
  let instancesAtStart = 0;
  let failure: string | null = null;
  let exitCode = 1;

  /** Fails the run when a process we rely on died on its own. */
  const checkChildren = () => {
    for (const c of [...engine, ...(emulator ? [emulator] : []), ...(etcdChoice?.child ? [etcdChoice.child] : []), ...(redisChoice?.child ? [redisChoice.child] : [])]) {
      if (c.exitedYet && !c.stopping) {
        throw new DemoError(`${c.name} (pid ${c.pid}) exited unexpectedly (${c.exitReason}); last lines of ${c.logFile}:\n${children.tail(c)}`);
      }
    }
  };

  try {
    say(`dynamite demo: the engine scales a small web service under generated load (run ${runId})`);
    const helps = Promise.all([helpOf([]), helpOf(['scheduler'])]);
    // Redis first: its check is quick, and a Redis that does not answer should not cost an etcd start.
    redisChoice = await chooseRedis(opts.redisUrl, children, runDir, abort.signal);
    etcdChoice = await chooseEtcd(opts.etcdEndpoint, children, runDir, abort.signal);
    say(`  ${etcdChoice.note}`, `  ${redisChoice.note}`);
    const [mainHelp, schedulerHelp] = await helps;
    if (!/\bfleet-emulator\b/.test(mainHelp)) {
      throw new DemoError(`this build of dynamite has no fleet-emulator command (\`node ${DYNAMITE_BIN} --help\`); the demo needs it to run the web service`);
    }
    const hasHttp = /--http\b/.test(schedulerHelp);

    const basePort = await freePortRange(4);
    rendered = renderDemo(
      { runDir, keyRoot, basePort, etcdHosts: etcdChoice.hosts, parentPid: process.pid },
      {
        costMs: DEMO_DEFAULTS.costMs,
        workMs: DEMO_DEFAULTS.workMs,
        maxQueue: 100,
        sampleEveryMs: 500,
        registrationTtlSec: 5,
        sampleTtlSec: 15,
      },
    );
    const { config, service, scaleUp, scaleDown } = rendered;
    const registrationPrefix = `${config.etcd.applicationBasePath}/${scaleUp.serviceType}/`;
    const samplePrefix = `${config.etcd.metricsBasePath}/${scaleUp.serviceType}/`;

    // The fleet emulator: runs each unit's ExecStart as a local process.
    const fleetPort = await freePort();
    const fleetUrl = `http://127.0.0.1:${fleetPort}`;
    emulator = children.start('fleet-emulator', process.execPath, [DYNAMITE_BIN, 'fleet-emulator', '--listen', `127.0.0.1:${fleetPort}`]);
    await waitFor('fleet emulator answering', async () => {
      checkChildren();
      try {
        return (await fetch(`${fleetUrl}/fleet/v1/machines`, { signal: AbortSignal.timeout(1000) })).ok;
      } catch {
        return false;
      }
    }, 30_000, abort.signal);
    say(`  fleet emulator: ${fleetUrl} (pid ${emulator.pid})`);

    // The engine: one scheduler and `workers` workers, each its own `node bin/dynamite.js` process.
    const common = ['-e', etcdChoice.endpoint, '-f', `127.0.0.1:${fleetPort}`, '--redis_url', redisChoice.url, '--queue_prefix', queuePrefix];
    const httpPort = hasHttp ? await freePort() : null;
    const boardUrl = httpPort === null ? null : `http://127.0.0.1:${httpPort}/admin/queues`;
    engine.push(children.start('scheduler', process.execPath, [
      DYNAMITE_BIN, 'scheduler', '-c', rendered.configFile, '-s', rendered.unitsDir, ...common,
      ...(httpPort === null ? [] : ['--http', `127.0.0.1:${httpPort}`]),
    ]));
    for (let i = 1; i <= workers; i += 1) {
      engine.push(children.start(`worker-${i}`, process.execPath, [DYNAMITE_BIN, 'worker', ...common, '--concurrency', '4']));
    }
    say(
      `  engine: scheduler (pid ${engine[0]!.pid}) and ${workers} workers (pids ${engine.slice(1).map((w) => w.pid).join(', ')}), queue prefix ${queuePrefix}`,
      boardUrl ? `  Bull Board: ${boardUrl}` : '  Bull Board: not in this build (no --http flag on `dynamite scheduler`)',
      `  config: ${rendered.configFile} (${service.name}@${basePort}..${basePort + service.maxInstance - 1}, keys under ${keyRoot})`,
      `  policies: up when ${scaleUp.metric} > ${scaleUp.threshold} for ${scaleUp.periodMs / 1000} s (cooldown ${scaleUp.cooldownMs / 1000} s); ` +
        `down when < ${scaleDown.threshold} for ${scaleDown.periodMs / 1000} s (cooldown ${scaleDown.cooldownMs / 1000} s)`,
      `  logs: ${children.logDir}`,
    );

    etcd = new Etcd3({ hosts: etcdChoice.hosts, dialTimeout: 5000 });
    const policies = [scaleUp, scaleDown];
    const obs = new Observer(etcd, service.name, registrationPrefix, samplePrefix, (d) => say(decisionLine(d, t0, obs, policies)));
    observer = obs;
    await obs.start();

    say(`waiting for ${service.minInstance} ${service.name} instance(s) to launch, register and report ${scaleUp.metric} (min_instance ${service.minInstance})...`);
    await waitFor(`the first ${service.name} instance launching and sending samples`, async () => {
      checkChildren();
      const launched = [...obs.instances.keys()].filter((n) => obs.instances.get(n)!.record.state === 'launched');
      return launched.length >= service.minInstance && launched.every((n) => {
        const uuid = obs.uuidOf(n);
        return uuid !== null && obs.latest.has(uuid);
      });
    }, STARTUP_TIMEOUT_MS, abort.signal);
    startupS = (Date.now() - t0) / 1000;
    instancesAtStart = obs.launchedCount();
    say(`ready after ${startupS.toFixed(1)} s: ${[...obs.instances.keys()].join(', ')} launched and reporting`);

    // Traffic.
    const phases = buildPhases(durationS, { quietRate: DEMO_DEFAULTS.quietRate, peakRate: DEMO_DEFAULTS.peakRate });
    say(`traffic for ${durationS} s: ${describePhases(phases)} (${DEMO_DEFAULTS.quietRate} -> ${DEMO_DEFAULTS.peakRate} req/s; one instance serves ~${Math.floor(1000 / (DEMO_DEFAULTS.costMs + 1))} req/s)`);
    trafficStarted = performance.now();
    const elapsedS = () => (performance.now() - trafficStarted) / 1000;
    load = new LoadGenerator(etcd, registrationPrefix, () => phaseAt(phases, elapsedS()).rate);
    await load.start();
    const gen = load;

    const view = (): ViewInput => ({
      now: Date.now(),
      t0,
      phase: phaseAt(phases, elapsedS()),
      phaseCount: phases.length,
      load: gen.snapshot(),
      boardUrl,
      service,
      attached: [ATTACHED],
      policies,
      observer: obs,
      keep: opts.keep === true,
    });
    let lastPhase = -1;
    let lastLine = 0;
    let lines = 0;
    let keepAnnounced = false;
    for (;;) {
      checkChildren();
      const v = view();
      if (!v.phase.done && v.phase.index !== lastPhase) {
        lastPhase = v.phase.index;
        const p = v.phase.phase!;
        say(`+${((v.now - t0) / 1000).toFixed(1)}s  --- phase ${v.phase.index + 1}/${phases.length}: ${p.name}, ` +
          `${p.fromRate === p.toRate ? `${p.fromRate} req/s` : `${p.fromRate} -> ${p.toRate} req/s`} for ${(p.endS - p.startS).toFixed(0)} s ---`);
      }
      if (v.phase.done) {
        if (!opts.keep) break;
        if (!keepAnnounced) {
          keepAnnounced = true;
          trafficS = elapsedS();
          say(`traffic phases done after ${trafficS.toFixed(0)} s; --keep: everything stays up with quiet traffic until Ctrl-C` +
            (boardUrl ? ` (board: ${boardUrl})` : ''));
        }
      }
      if (tty) screen.draw(statusBlock(v));
      else if (v.now - lastLine >= 5000) {
        lastLine = v.now;
        lines += 1;
        say(statusLine(v));
        if (boardUrl && lines % 6 === 0) say(`         Bull Board: ${boardUrl}`);
      }
      if (abort.signal.aborted) break;
      await sleep(tty ? 250 : 500, abort.signal);
    }
    if (!keepAnnounced) trafficS = elapsedS();

    // A decision taken just before the end gets its action finished (a few seconds at most).
    const deadline = Date.now() + 15_000;
    let told = false;
    while (!abort.signal.aborted && Date.now() < deadline) {
      const pending = summarize([...obs.decisions.values()].map((d) => d.record)).events.filter((e) => e.doneAt === null && e.failed === null);
      if (pending.length === 0) break;
      if (!told) say(`waiting for ${pending.length} decided action(s) to finish...`);
      told = true;
      checkChildren();
      await sleep(500, abort.signal);
    }
    if (interrupted && !opts.keep) exitCode = 130;
  } catch (err) {
    if (err instanceof DemoAbort || (abort.signal.aborted && !(err instanceof DemoError))) exitCode = 130;
    else if (err instanceof DemoError) {
      failure = err.message;
      exitCode = err.exitCode;
    } else {
      failure = `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
      exitCode = 1;
    }
  }

  // Shutdown: traffic, engine, emulator (and the units it runs), leftovers, the demo's keys, private servers.
  screen.clearBlock(true);
  if (trafficS === 0 && trafficStarted > 0) trafficS = (performance.now() - trafficStarted) / 1000;
  const stopStarted = Date.now();
  const snapshot = load?.snapshot() ?? null;
  const instancesAtEnd = observer?.launchedCount() ?? 0;
  const startedAny = children.all.length > 0;
  if (startedAny) out.write('stopping: traffic, engine, fleet emulator and its units, demo keys, private servers...\n');
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  await attempt('traffic', async () => load?.stop());
  await attempt('watches', async () => observer?.stop());
  await Promise.all(engine.map((c) => children.stop(c, 8000)));
  if (emulator) await children.stop(emulator, 10_000);
  let swept = 0;
  if (rendered) swept = await sweepLeftovers(rendered.runtimeFile);
  if (etcd && etcdChoice && etcdChoice.child === null) {
    const client = etcd;
    await attempt('etcd cleanup', async () => {
      await client.delete().prefix(`${keyRoot}/`).exec();
      // The engine's root holds only this demo's state (it was empty at start), unless someone else took it since.
      const stored = await client.get(keys.applicationConfiguration).string();
      if (stored === null || stored.includes(keyRoot)) await client.delete().prefix(keys.root).exec();
    });
  }
  etcd?.close();
  if (redisChoice && redisChoice.child === null) {
    const url = redisChoice.url;
    await attempt('redis cleanup', () => deleteRedisPrefix(url, queuePrefix));
  }
  for (const c of children.all) await children.stop(c, 5000);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  process.off('exit', onExit);
  const stopS = (Date.now() - stopStarted) / 1000;
  if (startedAny || problems.length > 0) {
    out.write(`stopped in ${stopS.toFixed(1)} s${swept > 0 ? ` (${swept} unit processes outlived the emulator and were stopped)` : ''}` +
      `${problems.length ? `; problems: ${problems.join('; ')}` : ''}\n\n`);
  }

  // Summary.
  if (observer && trafficStarted > 0 && rendered) {
    const summary = summarize([...observer.decisions.values()].map((d) => d.record));
    const lines = formatSummary(summary, {
      totalS: (Date.now() - t0) / 1000,
      startupS,
      trafficS,
      instancesAtStart,
      instancesPeak: observer.maxLaunched,
      instancesAtEnd,
      minInstance: rendered.service.minInstance,
      maxInstance: rendered.service.maxInstance,
      requests: { ok: snapshot?.ok ?? 0, rejected: snapshot?.rejected ?? 0, failed: snapshot?.failed ?? 0, dropped: snapshot?.dropped ?? 0 },
      peakRate: DEMO_DEFAULTS.peakRate,
    });
    out.write(`${lines.join('\n')}\n`);
    if (failure === null && exitCode !== 130) {
      const v = verdict(summary);
      out.write(`result: ${v.message}\n`);
      exitCode = v.ok ? 0 : 1;
    }
  }
  if (failure !== null) out.write(`dynamite demo failed: ${failure}\n`);
  if (exitCode === 130) out.write('interrupted\n');
  const keepDir = opts.keepLogs === true || (startedAny && exitCode !== 0 && exitCode !== 130);
  if (keepDir) out.write(`run dir (config, units, logs): ${runDir}\n`);
  else fs.rmSync(runDir, { recursive: true, force: true });
  return exitCode;
}
