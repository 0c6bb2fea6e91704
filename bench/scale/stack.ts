import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import IORedis from 'ioredis';
import { FleetClient } from '@dynamite/fleet-client';
import { DYNAMITE_BIN, REPO_ROOT } from '../../test/support/engine-harness';
import { EtcdServer } from '../../test/support/etcd';
import { freePort, waitForPort } from '../../test/support/ports';
import { RedisServer, uniquePrefix } from '../../test/support/redis';

/**
 * The servers of one scale benchmark, each its own process so its CPU and memory can be read from /proc: a
 * private etcd, the fleet emulator (`dynamite fleet-emulator`), and engine processes (`dynamite scheduler` and
 * `dynamite worker`). The config has S services, each its own template unit (`/bin/sleep`), two per-instance
 * policies that never fire unless the benchmark sends values across their thresholds.
 */

export interface ScaleConfig {
  services: number;
  min: number;
  max: number;
  /** Period of both policies (s). */
  periodS: number;
  cooldownS: number;
  upThreshold: number;
  downThreshold: number;
  reconcileS: number;
  /** Engine.metrics_retention (s); the original's default is 10 minutes. */
  retentionS?: number;
}

export const serviceName = (i: number) => `s${String(i).padStart(5, '0')}`;
export const basePortOf = (i: number, max: number) => 20_000 + i * max;

export function scaleConfigYaml(c: ScaleConfig, unitDir: string): string {
  const lines = [
    'Dynamite:',
    '  ServiceFiles:',
    '    PathList:', `      - ${unitDir}`,
    '  ETCD:',
    '    application_base_path: /services',
    '    metrics_base_path: /metrics',
    '  Engine:',
    `    reconcile_interval: ${c.reconcileS}`,
    '    reconcile_interval_unit: second',
    ...(c.retentionS ? [`    metrics_retention: ${c.retentionS}`, '    metrics_retention_unit: second'] : []),
    '  Service:',
  ];
  for (let i = 0; i < c.services; i += 1) {
    const s = serviceName(i);
    lines.push(
      `    ${s}:`, `      name_of_unit_file: ${s}@.service`, `      type: ${s}`, `      min_instance: ${c.min}`, `      max_instance: ${c.max}`,
      `      base_instance_prefix_number: ${basePortOf(i, c.max)}`, '      ports_per_instance: 1',
      `      scale_up_policy:`, `        ScalingPolicy: ${s}_up`, `      scale_down_policy:`, `        ScalingPolicy: ${s}_down`,
    );
  }
  lines.push('  ScalingPolicy:');
  for (let i = 0; i < c.services; i += 1) {
    const s = serviceName(i);
    for (const [name, op, threshold] of [[`${s}_up`, 'gt', c.upThreshold], [`${s}_down`, 'lt', c.downThreshold]] as const) {
      lines.push(
        `    ${name}:`, `      service_type: ${s}`, '      metric: cpu_user', '      metric_aggregated: false', `      comparative_operator: ${op}`,
        `      threshold: ${threshold}`, `      period: ${c.periodS}`, '      period_unit: second', `      cooldown_period: ${c.cooldownS}`,
        '      cooldown_period_unit: second',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

/** CPU seconds (user + system) and RSS of a process, from /proc. */
export function procUsage(pid: number): { cpuS: number; rssMb: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssPages = Number(fields[21]);
    return { cpuS: ticks / 100, rssMb: (rssPages * 4096) / 1024 / 1024 };
  } catch {
    return null;
  }
}

/** The stack's own Redis: its used memory (MB) and the commands it has processed (commands inside scripts count). */
export async function redisInfo(stack: ScaleStack): Promise<{ usedMb: number; commands: number }> {
  const memory = await stack.redis.info('memory');
  const stats = await stack.redis.info('stats');
  const used = Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? 0);
  const commands = Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? 0);
  return { usedMb: used / 1024 / 1024, commands };
}

/** Every process group a stack started: killed when the benchmark exits, however it exits (an interrupted run). */
const started = new Set<number>();
let exitHooked = false;
/** Engine processes and the emulator lead their own process groups; etcd and Redis are plain children. */
function killOnExit(pid: number, group = true): void {
  started.add(group ? -pid : pid);
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => { for (const p of started) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } } });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
}

export class ScaleStack {
  readonly procs: Proc[] = [];
  etcd!: Etcd3;
  fleet!: FleetClient;
  redis!: IORedis;
  emulator!: Proc;
  emulatorUrl = '';
  /** Where engine processes reach fleet: the emulator, or a recording proxy in front of it. */
  fleetUrl = '';
  readonly prefix: string;
  readonly dir: string;
  readonly configFile: string;
  private counter = 0;

  private constructor(readonly config: ScaleConfig, readonly etcdServer: EtcdServer, readonly redisServer: RedisServer) {
    this.prefix = uniquePrefix('bench-scale');
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynamite-bench-scale-'));
    const unitDir = path.join(this.dir, 'units');
    fs.mkdirSync(unitDir);
    for (let i = 0; i < config.services; i += 1) {
      fs.writeFileSync(path.join(unitDir, `${serviceName(i)}@.service`), `[Unit]\nDescription=${serviceName(i)} %i\n\n[Service]\nExecStart=/bin/sleep 3600\n`);
    }
    this.configFile = path.join(this.dir, 'dynamite.yaml');
    fs.writeFileSync(this.configFile, scaleConfigYaml(config, unitDir));
  }

  static async start(config: ScaleConfig, emulatorFlags: string[] = []): Promise<ScaleStack> {
    // A Redis of its own: its memory and command counts are the engine's alone, and FLUSHALL touches no one else.
    const stack = new ScaleStack(config, await EtcdServer.start(), await RedisServer.start());
    killOnExit(stack.etcdServer.pid!, false);
    killOnExit(stack.redisServer.pid!, false);
    stack.etcd = new Etcd3({ hosts: stack.etcdServer.url });
    stack.redis = new IORedis(stack.redisServer.url, { maxRetriesPerRequest: null });
    const port = await freePort();
    stack.emulatorUrl = `http://127.0.0.1:${port}`;
    // Without the simulated agent lag: the benchmark measures the engine; fleet's own lag would add the same to every figure.
    stack.emulator = stack.spawnProcess('emulator', ['fleet-emulator', '--listen', `127.0.0.1:${port}`, '--machines', '3', '--agent_lag', '0', ...emulatorFlags]);
    await waitForPort(port, 20_000);
    stack.fleetUrl = stack.emulatorUrl;
    stack.fleet = new FleetClient({ endpoint: stack.emulatorUrl, retry: { attempts: 3 } });
    return stack;
  }

  get engineFlags(): string[] {
    return ['-e', this.etcdServer.endpoint, '-f', this.fleetUrl, '--redis_url', this.redisServer.url, '--queue_prefix', this.prefix];
  }

  private spawnProcess(name: string, args: string[], env: Record<string, string> = {}): Proc {
    const logFile = path.join(this.dir, `${name}.log`);
    const out = fs.openSync(logFile, 'a');
    // BENCH_CPU_PROF=<dir>: engine processes write a V8 CPU profile there when they exit (open it in Chrome devtools).
    const profile = process.env.BENCH_CPU_PROF && name !== 'emulator' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
    const child = spawn(process.execPath, [...profile, DYNAMITE_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, DYNAMITE_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', ...env },
      stdio: ['ignore', out, out], detached: true,
    });
    fs.closeSync(out);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { started.delete(-child.pid!); resolve(code); }));
    killOnExit(child.pid!);
    const proc = { name, child, logFile, exited };
    this.procs.push(proc);
    return proc;
  }

  /** `dynamite scheduler` with its metrics on a free port; returns the process and its /metrics URL. */
  async scheduler(extra: string[] = []): Promise<{ proc: Proc; metricsUrl: string }> {
    const port = await freePort();
    const proc = this.spawnProcess(`scheduler-${(this.counter += 1)}`, ['scheduler', ...this.engineFlags, '-c', this.configFile, '--http', `127.0.0.1:${port}`, ...extra]);
    await Promise.race([waitForPort(port, 300_000), proc.exited.then((code) => { throw new Error(`${proc.name} exited (${code}): ${fs.readFileSync(proc.logFile, 'utf8').slice(-2000)}`); })]);
    return { proc, metricsUrl: `http://127.0.0.1:${port}/metrics` };
  }

  async worker(extra: string[] = []): Promise<{ proc: Proc; metricsUrl: string }> {
    const port = await freePort();
    const proc = this.spawnProcess(`worker-${(this.counter += 1)}`, ['worker', ...this.engineFlags, '--metrics', `127.0.0.1:${port}`, ...extra]);
    await Promise.race([waitForPort(port, 60_000), proc.exited.then((code) => { throw new Error(`${proc.name} exited (${code}): ${fs.readFileSync(proc.logFile, 'utf8').slice(-2000)}`); })]);
    return { proc, metricsUrl: `http://127.0.0.1:${port}/metrics` };
  }

  /** Stops a process (SIGTERM: graceful; SIGKILL: a crash) and returns how long it took to exit (ms). */
  async stopProcess(proc: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    const started = Date.now();
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      try { process.kill(-proc.child.pid!, signal); } catch { proc.child.kill(signal); }
    }
    await proc.exited;
    return Date.now() - started;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.filter((p) => p !== this.emulator).map((proc) => this.stopProcess(proc, 'SIGTERM').catch(() => undefined)));
    await this.stopProcess(this.emulator, 'SIGTERM').catch(() => undefined);
    this.etcd.close();
    started.delete(this.etcdServer.pid!);
    await this.etcdServer.stop();
    this.redis.disconnect();
    started.delete(this.redisServer.pid!);
    await this.redisServer.stop();
    if (!process.env.DYNAMITE_KEEP_TEST_DIRS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Sums a counter or gauge over its series in a Prometheus text exposition (those whose labels match `labels`). */
export async function scrape(url: string, name: string, labels: RegExp = /.*/): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if ((line.startsWith(`${name}{`) && labels.test(line)) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(check: () => Promise<T | null | false | undefined>, timeoutMs: number, what: string, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
