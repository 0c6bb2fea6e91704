import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Etcd3 } from 'etcd3';
import IORedis from 'ioredis';
import { ACTIONS_QUEUE, CHECKS_QUEUE, JOB, keys } from '@dynamite/domain';
import { FleetClient } from '@dynamite/fleet-client';
import { startFleetEmulator, type FleetEmulatorOptions } from '@dynamite/fleet-emulator';
import { EtcdServer } from './etcd';
import { REDIS_URL, deletePrefix, uniquePrefix } from './redis';
import { engineConfigHead } from './config-text';

/** The repository root (tests run from dist/test/<area>/). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const DYNAMITE_BIN = path.join(REPO_ROOT, 'bin', 'dynamite.js');

export interface HarnessOptions {
  suite: string;
  /** The Dynamite YAML; `{{UNITS}}` is replaced by the unit folder. */
  config: string;
  /** Unit files by name. */
  units: Record<string, string>;
  /** Extra environment of every engine process. */
  env?: Record<string, string>;
  emulator?: FleetEmulatorOptions;
  /** A Redis of the test's own (default: the shared one, with a unique prefix). */
  redisUrl?: string;
  /** An etcd of the test's own, e.g. a cluster (default: one private etcd server). */
  etcd?: () => Promise<HarnessEtcd>;
}

/** The etcd a harness runs against: `endpoint` as the engine's -e flag takes it, `hosts` for the test's client. */
export interface HarnessEtcd {
  endpoint: string;
  hosts: string[];
  stop(): Promise<void>;
}

async function singleEtcd(): Promise<HarnessEtcd> {
  const server = await EtcdServer.start();
  return { endpoint: server.endpoint, hosts: [server.url], stop: () => server.stop() };
}

export interface EngineProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

/**
 * Real servers for one engine test suite: a private etcd, the fleet emulator, a unique Redis prefix, a temp folder
 * with the config and unit files -- and engine processes (`dynamite scheduler|worker|run`) started as children,
 * which tests may SIGKILL and restart.
 */
export class EngineHarness {
  readonly processes: EngineProcess[] = [];
  etcd!: Etcd3;
  fleet!: FleetClient;
  private counter = 0;
  private queueConnection: IORedis | null = null;
  private readonly queues = new Map<string, Queue>();

  private constructor(
    readonly opts: HarnessOptions,
    readonly dir: string,
    readonly etcdServer: HarnessEtcd,
    readonly emulator: { url: string; port: number; stop(): Promise<void> },
    readonly prefix: string,
    readonly configFile: string,
    readonly unitDir: string,
  ) {}

  static async start(opts: HarnessOptions): Promise<EngineHarness> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dynamite-${opts.suite}-`));
    const unitDir = path.join(dir, 'units');
    fs.mkdirSync(unitDir);
    for (const [name, text] of Object.entries(opts.units)) fs.writeFileSync(path.join(unitDir, name), text);
    const configFile = path.join(dir, 'dynamite.yaml');
    fs.writeFileSync(configFile, opts.config.replaceAll('{{UNITS}}', unitDir));
    const etcdServer = await (opts.etcd ?? singleEtcd)();
    // Fast mode (no agent lag): engine tests wait on the engine, not on a simulated fleet agent.
    const emulator = await startFleetEmulator({ port: 0, agentLagMs: 0, ...(opts.emulator ?? {}) });
    const h = new EngineHarness(opts, dir, etcdServer, emulator, uniquePrefix(opts.suite), configFile, unitDir);
    h.etcd = new Etcd3({ hosts: etcdServer.hosts });
    h.fleet = new FleetClient({ endpoint: emulator.url, retry: { attempts: 3 } });
    return h;
  }

  get redisUrl(): string {
    return this.opts.redisUrl ?? REDIS_URL;
  }

  get engineFlags(): string[] {
    return ['-e', this.etcdServer.endpoint, '-f', this.emulator.url, '--redis_url', this.redisUrl, '--queue_prefix', this.prefix];
  }

  /** Starts `dynamite <command>` as a child process (its own process group), logs to a file in the temp folder. */
  spawn(command: 'scheduler' | 'worker' | 'run', extra: string[] = []): EngineProcess {
    const name = `${command}-${(this.counter += 1)}`;
    const logFile = path.join(this.dir, `${name}.log`);
    const out = fs.openSync(logFile, 'a');
    // Schedulers get no operator listener unless a test asks for one (`--http` in extra wins: the last flag counts),
    // and one election id, so a scheduler started again after a SIGKILL takes over at once (`--scheduler_id` in extra wins).
    const scheduler = ['-c', this.configFile, '--http', 'off', '--scheduler_id', `${this.opts.suite}-scheduler`];
    const args = [DYNAMITE_BIN, command, ...this.engineFlags, ...(command === 'worker' ? [] : scheduler), ...extra];
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, DYNAMITE_LOG_LEVEL: 'debug', ...(this.opts.env ?? {}) },
      stdio: ['ignore', out, out],
      detached: true,
    });
    fs.closeSync(out);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const proc = { name, child, logFile, exited };
    this.processes.push(proc);
    return proc;
  }

  /** Kills a process (and its group): SIGKILL simulates a crash, SIGTERM a graceful stop. */
  async kill(proc: EngineProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      try {
        process.kill(-proc.child.pid!, signal);
      } catch {
        proc.child.kill(signal);
      }
    }
    await proc.exited;
  }

  log(proc: EngineProcess): string {
    return fs.existsSync(proc.logFile) ? fs.readFileSync(proc.logFile, 'utf8') : '';
  }

  /** The last lines of every engine process's log (printed when a test fails). */
  logs(lines = 40): string {
    return this.processes.map((p) => `--- ${p.name}\n${this.log(p).split('\n').slice(-lines).join('\n')}`).join('\n');
  }

  // ---- etcd helpers -------------------------------------------------------------------------------------

  async sample(serviceType: string, uuid: string | null, metric: string, value: string | number, at = Date.now()): Promise<string> {
    const key = sampleKey(serviceType, uuid, metric, at);
    await this.etcd.put(key).value(String(value));
    return key;
  }

  /** Writes one key; returns the etcd revision of the write. */
  async put(key: string, value: string): Promise<string> {
    return String((await this.etcd.put(key).value(value).exec()).header.revision);
  }

  async register(serviceType: string, uuid: string, instance: string): Promise<void> {
    await this.etcd.put(`/services/${serviceType}/${uuid}/service_instance_name`).value(instance);
  }

  async instances(service: string): Promise<Record<string, { state: string; decision_id: string | null }>> {
    const all = await this.etcd.getAll().prefix(keys.servicePrefix(service)).json();
    const out: Record<string, { state: string; decision_id: string | null }> = {};
    for (const [key, value] of Object.entries(all)) {
      const leaf = key.slice(keys.servicePrefix(service).length);
      if (leaf !== 'fleet_service_template') out[leaf] = value as { state: string; decision_id: string | null };
    }
    return out;
  }

  async actions(service: string): Promise<{ decisionId: string; kind: string; instance: string; status: string }[]> {
    const all = await this.etcd.getAll().prefix(keys.serviceActionsPrefix(service)).json();
    return Object.values(all) as { decisionId: string; kind: string; instance: string; status: string }[];
  }

  async decisions(service: string): Promise<{ id: string; at: number; policy: string | null; machine: string | null; outcome: string; reason: string | null; action: { instance: string; kind: string } | null; inputs: Record<string, unknown> }[]> {
    const all = await this.etcd.getAll().prefix(keys.serviceDecisionsPrefix(service)).sort('Key', 'Ascend').strings();
    return Object.keys(all).sort().map((k) => JSON.parse(all[k]!));
  }

  /** fleet units whose currentState is launched, by name. */
  async launchedUnits(): Promise<string[]> {
    const units = await this.fleet.listUnits();
    return units.filter((u) => u.currentState === 'launched').map((u) => u.name).sort();
  }

  async unitNames(): Promise<string[]> {
    return (await this.fleet.listUnits()).map((u) => u.name).sort();
  }

  /** The emulator's request counts (`GET /emulator/stats`): by route, and by unit and method. */
  async emulatorStats(): Promise<{ requests: Record<string, number>; units: Record<string, Record<string, number>> }> {
    const res = await fetch(`${this.emulator.url}/emulator/stats`);
    if (!res.ok) throw new Error(`emulator stats: ${res.status} ${await res.text()}`);
    return (await res.json()) as { requests: Record<string, number>; units: Record<string, Record<string, number>> };
  }

  async emulatorFaults(body: Record<string, unknown> | null): Promise<void> {
    const res = await fetch(`${this.emulator.url}/emulator/faults`, body === null
      ? { method: 'DELETE' }
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`emulator faults: ${res.status} ${await res.text()}`);
  }

  redis(): IORedis {
    return new IORedis(this.redisUrl, { maxRetriesPerRequest: null });
  }

  // ---- engine state, read the way an operator would -----------------------------------------------------

  /** One of the engine's BullMQ queues (checks, actions, maintenance) under this suite's prefix, to read its jobs. */
  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      this.queueConnection ??= new IORedis(this.redisUrl, { maxRetriesPerRequest: null });
      queue = new Queue(name, { connection: this.queueConnection, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Checks not yet run to the end: waiting, active or prioritized, or delayed for a retry after a failed attempt.
   * Timer and cooldown-end jobs waiting for their time are not counted (they are delayed by design).
   */
  async checksInProgress(): Promise<number> {
    const queue = this.queue(CHECKS_QUEUE);
    const counts = await queue.getJobCounts('waiting', 'active', 'prioritized');
    const retrying = (await queue.getDelayed()).filter((j) => j.name === JOB.check).length;
    return Object.values(counts).reduce((a, b) => a + b, 0) + retrying;
  }

  /** Fleet actions not yet finished in the actions queue: waiting, active, prioritized or delayed (backoff). */
  async actionJobsInProgress(): Promise<number> {
    const counts = await this.queue(ACTIONS_QUEUE).getJobCounts('waiting', 'active', 'prioritized', 'delayed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /** Whether the scheduler has turned every etcd write up to `revision` into jobs (its stored watch revision). */
  async schedulerSaw(revision: string): Promise<boolean> {
    const stored = await this.etcd.get(keys.watchRevision).string();
    return stored !== null && BigInt(stored) >= BigInt(revision);
  }

  /**
   * Waits until every sample written up to `revision` has been evaluated: the scheduler turned it into checks,
   * and no check is left to run.
   */
  async waitForChecksDone(revision: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => (await this.schedulerSaw(revision)) && (await this.checksInProgress()) === 0, timeoutMs, `every check up to revision ${revision} done`, this);
  }

  /**
   * Waits until the engine is idle after the samples written up to `revision`: the scheduler turned them into
   * checks, and the checks queue holds no job at all -- no check, no timer (armed windows included), no cooldown end.
   */
  async waitForIdle(revision: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => {
      if (!(await this.schedulerSaw(revision))) return false;
      const counts = await this.queue(CHECKS_QUEUE).getJobCounts('waiting', 'active', 'prioritized', 'delayed');
      return Object.values(counts).every((n) => n === 0);
    }, timeoutMs, `the checks queue empty after revision ${revision}`, this);
  }

  /** Waits until no cooldown of `service` runs any more (per the cooldown records in etcd). */
  async waitForCooldownsOver(service: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => {
      const all = await this.etcd.getAll().prefix(keys.servicePolicyPrefix(service)).json();
      const now = Date.now();
      return Object.entries(all).every(([key, value]) => !key.endsWith('/cooldown') || (value as { until: number }).until <= now);
    }, timeoutMs, `the cooldowns of ${service} over`, this);
  }

  /** The counters of rejected samples in etcd (`/_dynamite/stats/samples_rejected_<reason>`), by reason. */
  async rejectedSampleStats(): Promise<Record<string, number>> {
    const prefix = keys.stat('samples_rejected_');
    const all = await this.etcd.getAll().prefix(prefix).strings();
    return Object.fromEntries(Object.entries(all).map(([key, value]) => [key.slice(prefix.length), Number(value)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queueConnection?.disconnect();
    await Promise.all(this.processes.map((p) => this.kill(p, 'SIGTERM').catch(() => undefined)));
    this.etcd.close();
    await this.emulator.stop();
    await this.etcdServer.stop();
    await deletePrefix(this.prefix, this.redisUrl).catch(() => undefined);
    if (!process.env.DYNAMITE_KEEP_TEST_DIRS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls until `check` returns a truthy value; fails with `message` and the engine logs after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | null | undefined | false>, timeoutMs: number, message: string, h?: EngineHarness): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms: ${message}${last ? ` (last error: ${String(last)})` : ''}${h ? `\n${h.logs()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `dynamite_samples_rejected_total` by reason, from a Prometheus text exposition (`/metrics`). */
export async function scrapeRejectedSamples(metricsUrl: string): Promise<Record<string, number>> {
  const res = await fetch(metricsUrl);
  if (!res.ok) throw new Error(`${metricsUrl}: ${res.status}`);
  const out: Record<string, number> = {};
  for (const m of (await res.text()).matchAll(/^dynamite_samples_rejected_total\{reason="([^"]+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** A sample's key under the harness configs' metrics base: per instance, or aggregated when `uuid` is null. */
export function sampleKey(serviceType: string, uuid: string | null, metric: string, at: number): string {
  const ts = new Date(at).toISOString();
  return uuid === null ? `/metrics/${serviceType}/${metric}/${ts}` : `/metrics/${serviceType}/${uuid}/${metric}/${ts}`;
}

/** Writes one sample every `everyMs` until stopped; `stop()` returns the etcd revision of the last one written. */
export function sampleStream(h: EngineHarness, serviceType: string, uuid: string | null, metric: string, value: () => number, everyMs = 200): { stop(): Promise<string> } {
  let running = true;
  let lastRevision = '0';
  const loop = (async () => {
    while (running) {
      lastRevision = await h.put(sampleKey(serviceType, uuid, metric, Date.now()), String(value())).catch(() => lastRevision);
      await sleep(everyMs);
    }
  })();
  return { async stop() { running = false; await loop; return lastRevision; } };
}

/** A small template web service with one attached unit; both run harmless local processes in the emulator. */
export function webServiceConfig(opts: {
  min?: number; max?: number; upPeriod?: number; downPeriod?: number; cooldown?: number; upThreshold?: number; downThreshold?: number;
  staleAfter?: number; reconcile?: number;
} = {}): { config: string; units: Record<string, string> } {
  const config = `
${engineConfigHead({ reconcile_interval: opts.reconcile ?? 2, reconcile_interval_unit: 'second' })}  Service:
    web:
      name_of_unit_file: web@.service
      type: webserver
      min_instance: ${opts.min ?? 1}
      max_instance: ${opts.max ?? 4}
      base_instance_prefix_number: 8080
      ports_per_instance: 1
      attached_service:
        - web_disc
      scale_up_policy:
        ScalingPolicy: web_up
      scale_down_policy:
        ScalingPolicy: web_down
    web_disc:
      name_of_unit_file: web_disc@.service
      type: attached_service
  ScalingPolicy:
    web_up:
      service_type: webserver
      metric: cpu_user
      metric_aggregated: false
      comparative_operator: gt
      threshold: ${opts.upThreshold ?? 80}
      period: ${opts.upPeriod ?? 1.5}
      period_unit: second
      cooldown_period: ${opts.cooldown ?? 30}
      cooldown_period_unit: second
      stale_after: ${opts.staleAfter ?? 60}
      stale_after_unit: second
    web_down:
      service_type: webserver
      metric: cpu_user
      metric_aggregated: false
      comparative_operator: lt
      threshold: ${opts.downThreshold ?? 10}
      period: ${opts.downPeriod ?? 1.5}
      period_unit: second
      cooldown_period: ${opts.cooldown ?? 30}
      cooldown_period_unit: second
      stale_after: ${opts.staleAfter ?? 60}
      stale_after_unit: second
`;
  const units = {
    'web@.service': '[Unit]\nDescription=web %i\n\n[Service]\nExecStart=/bin/sleep 600\n',
    'web_disc@.service': '[Unit]\nDescription=discovery for web %i\nBindsTo=web@%i.service\n\n[Service]\nExecStart=/bin/sleep 600\n\n[X-Fleet]\nMachineOf=web@%i.service\n',
  };
  return { config, units };
}
