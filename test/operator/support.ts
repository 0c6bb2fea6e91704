import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { keys } from '@dynamite/domain';
import { FleetClient } from '@dynamite/fleet-client';
import { startFleetEmulator, type FleetEmulator } from '@dynamite/fleet-emulator';
import { EngineMetrics } from '@dynamite/engine';
import type { HttpListenOptions } from '@dynamite/operator';
import { startScheduler, type RunningScheduler } from '@dynamite/scheduler';
import { startWorker, type RunningWorker } from '@dynamite/worker';
import { EtcdServer } from '../support/etcd';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis';
import { engineConfigHead } from '../support/config-text';

/** Tests run from dist/test/operator/. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const DYNAMITE_BIN = path.join(REPO_ROOT, 'bin', 'dynamite.js');

export const USER = 'operator';
export const PASSWORD = 'correct horse battery staple';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/**
 * Two template services, each with its attached-free units running `/bin/sleep` in the emulator:
 *   web   min 1, max 3: cpu_user > 80 for 1 s adds one (cooldown 60 s); < 10 for 1 s removes one.
 *   slow  min 1, max 2: load > 50 for 10 minutes (so a test can see it armed, never firing).
 */
export const OPERATOR_CONFIG = `
${engineConfigHead()}  Service:
    web:
      name_of_unit_file: web@.service
      type: webserver
      min_instance: 1
      max_instance: 3
      base_instance_prefix_number: 18080
      attached_service:
        - web_disc
      scale_up_policy:
        ScalingPolicy: web_up
      scale_down_policy:
        ScalingPolicy: web_down
    web_disc:
      name_of_unit_file: web_disc@.service
      type: attached_service
    slow:
      name_of_unit_file: slow@.service
      type: slowtype
      min_instance: 1
      max_instance: 2
      base_instance_prefix_number: 19090
      scale_up_policy:
        ScalingPolicy: slow_up
  ScalingPolicy:
    web_up:
      service_type: webserver
      metric: cpu_user
      comparative_operator: gt
      threshold: 80
      threshold_unit: percent
      period: 1
      period_unit: second
      cooldown_period: 1
      cooldown_period_unit: minute
    web_down:
      service_type: webserver
      metric: cpu_user
      comparative_operator: lt
      threshold: 10
      threshold_unit: percent
      period: 1
      period_unit: second
      cooldown_period: 1
      cooldown_period_unit: minute
    slow_up:
      service_type: slowtype
      metric: load
      comparative_operator: gt
      threshold: 50
      period: 10
      period_unit: minute
      cooldown_period: 1
      cooldown_period_unit: minute
`;

export const OPERATOR_UNITS: Record<string, string> = {
  'web@.service': '[Unit]\nDescription=web %i\n\n[Service]\nExecStart=/bin/sleep 600\n',
  'web_disc@.service': '[Unit]\nDescription=discovery of web %i\n\n[Service]\nExecStart=/bin/sleep 600\n\n[X-Fleet]\nMachineOf=web@%i.service\n',
  'slow@.service': '[Unit]\nDescription=slow %i\n\n[Service]\nExecStart=/bin/sleep 600\n',
};

const silent = pino({ level: 'silent' });

/**
 * Real servers for one operator test file: a private etcd, the fleet emulator, a unique Redis prefix, a temp
 * folder with the config and units, and (unless told otherwise) an in-process scheduler and worker sharing one
 * EngineMetrics, with the operator listener on a free loopback port.
 */
export class OperatorEnv {
  scheduler: RunningScheduler | null = null;
  worker: RunningWorker | null = null;
  readonly metrics = new EngineMetrics();
  readonly etcd: Etcd3;
  readonly fleet: FleetClient;
  private emulatorStopped = false;

  private constructor(
    readonly dir: string,
    readonly configFile: string,
    readonly unitDir: string,
    readonly etcdServer: EtcdServer,
    readonly emulator: FleetEmulator,
    readonly prefix: string,
  ) {
    this.etcd = new Etcd3({ hosts: etcdServer.url });
    this.fleet = new FleetClient({ endpoint: emulator.url, retry: { attempts: 3 } });
  }

  static async start(suite: string, opts: { engine?: boolean; http?: Partial<HttpListenOptions> | null } = {}): Promise<OperatorEnv> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dynamite-op-${suite}-`));
    const unitDir = path.join(dir, 'units');
    fs.mkdirSync(unitDir);
    for (const [name, text] of Object.entries(OPERATOR_UNITS)) fs.writeFileSync(path.join(unitDir, name), text);
    const configFile = path.join(dir, 'dynamite.yaml');
    fs.writeFileSync(configFile, OPERATOR_CONFIG.replaceAll('{{UNITS}}', unitDir));
    const etcdServer = await EtcdServer.start();
    const emulator = await startFleetEmulator({ port: 0, agentLagMs: 0 });
    const env = new OperatorEnv(dir, configFile, unitDir, etcdServer, emulator, uniquePrefix(`op-${suite}`));
    if (opts.engine !== false) await env.startEngine(opts.http === undefined ? {} : opts.http);
    return env;
  }

  get etcdEndpoint(): string {
    return this.etcdServer.endpoint;
  }

  get url(): string {
    const url = this.scheduler?.httpUrl;
    if (!url) throw new Error('the operator listener is not running');
    return url;
  }

  /** Starts the scheduler (with the listener unless `http` is null) and one worker, in this process. */
  async startEngine(http: Partial<HttpListenOptions> | null = {}): Promise<void> {
    const common = {
      etcd: { endpoint: this.etcdServer.endpoint },
      redisUrl: REDIS_URL,
      queuePrefix: this.prefix,
      fleetEndpoint: this.emulator.url,
      fleetEndpointExplicit: true,
      log: silent,
      metrics: this.metrics,
    };
    this.scheduler = await startScheduler({
      ...common,
      configFile: this.configFile,
      http: http === null ? null : { host: '127.0.0.1', port: 0, credentials: null, probeTimeoutMs: 1_500, ...http },
    });
    this.worker = await startWorker({ ...common, concurrency: 4, fleet: { endpoint: this.emulator.url, retry: { attempts: 2 } } });
  }

  async stopEmulator(): Promise<void> {
    if (this.emulatorStopped) return;
    this.emulatorStopped = true;
    await this.emulator.stop();
  }

  async stop(): Promise<void> {
    await this.worker?.close().catch(() => undefined);
    await this.scheduler?.close().catch(() => undefined);
    this.etcd.close();
    await this.stopEmulator().catch(() => undefined);
    await this.etcdServer.stop();
    await deletePrefix(this.prefix).catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- etcd and fleet helpers ---------------------------------------------------------------------------

  async sample(serviceType: string, uuid: string, metric: string, value: number, at = Date.now()): Promise<void> {
    await this.etcd.put(`/metrics/${serviceType}/${uuid}/${metric}/${new Date(at).toISOString()}`).value(String(value));
  }

  async register(serviceType: string, uuid: string, instance: string): Promise<void> {
    await this.etcd.put(`/services/${serviceType}/${uuid}/service_instance_name`).value(instance);
  }

  /** Writes a sample every `everyMs` until stopped. */
  stream(serviceType: string, uuid: string, metric: string, value: number, everyMs = 150): { stop(): Promise<void> } {
    let running = true;
    const loop = (async () => {
      while (running) {
        await this.sample(serviceType, uuid, metric, value).catch(() => undefined);
        await sleep(everyMs);
      }
    })();
    return { async stop() { running = false; await loop; } };
  }

  async instances(service: string): Promise<Record<string, { state: string }>> {
    const all = await this.etcd.getAll().prefix(keys.servicePrefix(service)).json();
    const out: Record<string, { state: string }> = {};
    for (const [key, value] of Object.entries(all)) {
      const leaf = key.slice(keys.servicePrefix(service).length);
      if (leaf !== 'fleet_service_template') out[leaf] = value as { state: string };
    }
    return out;
  }

  async launchedUnits(): Promise<string[]> {
    return (await this.fleet.listUnits()).filter((u) => u.currentState === 'launched').map((u) => u.name).sort();
  }

  async faults(body: Record<string, unknown> | null): Promise<void> {
    const res = await fetch(`${this.emulator.url}/emulator/faults`, body === null
      ? { method: 'DELETE' }
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`emulator faults: ${res.status} ${await res.text()}`);
  }

  /** The engine is up: every service at min_instance, launched in fleet and recorded launched. */
  async waitForMinInstances(): Promise<void> {
    await waitFor(async () => {
      const [web, slow] = await Promise.all([this.instances('web'), this.instances('slow')]);
      return web['web@18080.service']?.state === 'launched' && slow['slow@19090.service']?.state === 'launched';
    }, 30_000, 'web@18080 and slow@19090 launched and recorded');
  }
}

/** Polls until `check` returns something truthy; fails with `message` (and the last error) after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | null | undefined | false>, timeoutMs: number, message: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(100);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/dynamite.js ...args` to completion (without blocking the event loop: servers in this process answer). */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DYNAMITE_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, DYNAMITE_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`dynamite ${args.join(' ')} did not finish in ${timeoutMs} ms`)); }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** Synchronous variant for checks that need no server of this process. */
export function runCliSync(args: string[], env: Record<string, string | undefined> = {}): CliResult {
  const r = spawnSync(process.execPath, [DYNAMITE_BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Prometheus text -> `name{labels}` -> value (labels as written, in order). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Sum of every series of `name` whose labels include all of `labels`. */
export function metricSum(metrics: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [series, value] of metrics) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(series);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

/** The stack-trace shape (`    at fn (file:line)`) that no user-facing error may print. */
export const STACK_LINE = /^\s+at .+[:(]/m;
