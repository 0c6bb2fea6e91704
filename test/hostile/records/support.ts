import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Job } from 'bullmq';
import pino from 'pino';
import IORedis, { type Redis } from 'ioredis';
import { keys } from '@dynamite/domain';
import { FleetClient, type FleetUnit } from '@dynamite/fleet-client';
import { startFleetEmulator, type FleetEmulator } from '@dynamite/fleet-emulator';
import {
  EngineMetrics,
  createEngineContext,
  processActionJob,
  reconcile,
  resolveConfig,
  writeEngineState,
  type EngineContext,
  type LoadedConfig,
} from '@dynamite/engine';
import { EtcdServer } from '../../support/etcd';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../../support/redis';
import { engineConfigHead } from '../../support/config-text';

/**
 * One template service `web` (min 1, max 3, ports 28080..28082, attached `web_disc`) with an up and a down policy,
 * and a unit in fleet that is not the engine's (`bystander.service`): what a tampered record must never make the
 * engine launch, destroy or orphan.
 */
export const CONFIG = `
${engineConfigHead()}  Service:
    web:
      name_of_unit_file: web@.service
      type: webserver
      min_instance: 1
      max_instance: 3
      base_instance_prefix_number: 28080
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
      comparative_operator: gt
      threshold: 80
      period: 1
      period_unit: minute
      cooldown_period: 1
      cooldown_period_unit: minute
    web_down:
      service_type: webserver
      metric: cpu_user
      comparative_operator: lt
      threshold: 10
      period: 1
      period_unit: minute
      cooldown_period: 1
      cooldown_period_unit: minute
`;

const UNITS: Record<string, string> = {
  'web@.service': '[Unit]\nDescription=web %i\n\n[Service]\nExecStart=/bin/sleep 600\n',
  'web_disc@.service': '[Unit]\nDescription=discovery of web %i\n\n[Service]\nExecStart=/bin/sleep 600\n\n[X-Fleet]\nMachineOf=web@%i.service\n',
};

export const BASELINE_UNITS = ['bystander.service', 'web@28080.service', 'web_disc@28080.service'];

/** Log lines of the engine context, parsed. */
export interface LogLine {
  level: number;
  msg: string;
  key?: string;
  [field: string]: unknown;
}

/**
 * A real etcd, the fleet emulator and a Redis queue prefix, with an engine context in this process: the test runs
 * the processors (reconcile, fleet actions, policy checks) itself, one step at a time, and reads their logs and
 * metrics.
 */
export class RecordsBench {
  readonly logs: LogLine[] = [];
  readonly metrics = new EngineMetrics({ defaultMetrics: false });
  ctx!: EngineContext;
  loaded!: LoadedConfig;
  fleet!: FleetClient;
  redis!: Redis;
  /** The /_dynamite keys after start (template, instance, config, status): restored after every test. */
  private baseline = new Map<string, string>();

  private constructor(readonly dir: string, readonly configFile: string, readonly etcdServer: EtcdServer, readonly emulator: FleetEmulator, readonly prefix: string) {}

  static async start(suite: string): Promise<RecordsBench> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dynamite-hostile-${suite}-`));
    const unitDir = path.join(dir, 'units');
    fs.mkdirSync(unitDir);
    for (const [name, text] of Object.entries(UNITS)) fs.writeFileSync(path.join(unitDir, name), text);
    const configFile = path.join(dir, 'dynamite.yaml');
    fs.writeFileSync(configFile, CONFIG.replaceAll('{{UNITS}}', unitDir));
    const bench = new RecordsBench(dir, configFile, await EtcdServer.start(), await startFleetEmulator({ port: 0 }), uniquePrefix(`hostile-${suite}`));
    await bench.init();
    return bench;
  }

  private async init(): Promise<void> {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') this.logs.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    this.redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    this.ctx = createEngineContext({
      etcd: { endpoint: this.etcdServer.endpoint },
      connection: this.redis,
      queuePrefix: this.prefix,
      fleetEndpoint: this.emulator.url,
      fleet: { endpoint: '', retry: { attempts: 2 } },
      log: pino({ level: 'info' }, sink),
      metrics: this.metrics,
    });
    this.fleet = new FleetClient({ endpoint: this.emulator.url, retry: { attempts: 3 } });
    this.loaded = await resolveConfig(this.ctx.store, { configFile: this.configFile });
    await writeEngineState(this.ctx.store, this.loaded);
    await this.fleet.putUnit('bystander.service', {
      desiredState: 'launched',
      options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' }],
    });
    await reconcile(this.ctx, { adopt: true, heal: true });
    await this.runActionJobs();
    await this.fleet.waitUntilLaunched(BASELINE_UNITS, { waitMs: 20_000 });
    for (const [key, value] of Object.entries(await this.ctx.store.etcd.getAll().prefix(keys.root).strings())) {
      if (key.startsWith(keys.runPrefix) || key === keys.applicationConfiguration || key === keys.applicationStatus) this.baseline.set(key, value);
    }
  }

  get endpoint(): string {
    return this.etcdServer.endpoint;
  }

  /** Runs every waiting action job the way a worker does (one attempt each); returns what each returned or threw. */
  async runActionJobs(): Promise<{ job: Job; result?: unknown; error?: string }[]> {
    const out: { job: Job; result?: unknown; error?: string }[] = [];
    for (const job of await this.ctx.jobs.jobQueues.actions.getJobs(['waiting', 'prioritized', 'delayed'])) {
      try {
        out.push({ job, result: await processActionJob(this.ctx, job) });
      } catch (err) {
        out.push({ job, error: err instanceof Error ? err.message : String(err) });
      }
      await job.remove().catch(() => undefined);
    }
    return out;
  }

  /** What the engine does on its own, in a row: a reconcile with healing, then the action jobs it added. */
  async engineCycle(): Promise<{ job: Job; result?: unknown; error?: string }[]> {
    await reconcile(this.ctx, { heal: true });
    return this.runActionJobs();
  }

  async units(): Promise<FleetUnit[]> {
    return (await this.fleet.listUnits()).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** `name=desired/current` of every fleet unit. */
  async unitStates(): Promise<string[]> {
    return (await this.units()).map((u) => `${u.name}=${u.desiredState}`);
  }

  /** How often `dynamite_records_rejected_total{kind,reason}` was counted. */
  async rejectedCount(kind: string, reason: string): Promise<number> {
    const metric = await this.metrics.registry.getSingleMetric('dynamite_records_rejected_total')?.get();
    return (metric?.values ?? []).filter((v) => v.labels.kind === kind && v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
  }

  /** Log lines from line `since` on that report `key` as a skipped record. */
  skippedLines(key: string, since: number): LogLine[] {
    return this.logs.slice(since).filter((l) => l.key === key && /record skipped/.test(l.msg));
  }

  /** Back to the state after start: the recorded keys, nothing else under /_dynamite, the baseline fleet units. */
  async restore(): Promise<void> {
    const etcd = this.ctx.store.etcd;
    for (const key of await etcd.getAll().prefix(keys.root).keys()) {
      if (!this.baseline.has(key)) await etcd.delete().key(key);
    }
    for (const [key, value] of this.baseline) await etcd.put(key).value(value);
    for (const queue of this.ctx.jobs.jobQueues.all()) await queue.obliterate({ force: true });
    for (const unit of await this.units()) if (!BASELINE_UNITS.includes(unit.name)) await this.fleet.destroyUnit(unit.name).catch(() => undefined);
    for (const name of BASELINE_UNITS) {
      const unit = await this.fleet.getUnit(name);
      if (!unit) throw new Error(`baseline unit ${name} is gone; later tests would be meaningless`);
      if (unit.desiredState !== 'launched') await this.fleet.setDesiredState(name, 'launched');
    }
  }

  async stop(): Promise<void> {
    await this.ctx?.jobs.close().catch(() => undefined);
    await this.ctx?.config.close();
    this.ctx?.store.etcd.close();
    await this.redis?.quit().catch(() => undefined);
    await this.emulator.stop();
    await this.etcdServer.stop();
    await deletePrefix(this.prefix).catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
