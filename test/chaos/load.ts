import type { Etcd3 } from 'etcd3';
import { prng } from '../domain/factory';
import { sampleKey } from '../support/engine-harness';
import { engineConfigHead } from '../support/config-text';

/**
 * The chaos run's services and the sample load that swings them across their thresholds. Four template services:
 * per-instance policies with an attached unit (web), aggregated policies (api), per-instance policies with a min of
 * two (queue), and an aggregated scale up with a per-instance scale down (batch).
 */

export interface ChaosService {
  name: string;
  type: string;
  metric: string;
  min: number;
  max: number;
  basePort: number;
  attached: string | null;
  up: { threshold: number; aggregated: boolean };
  down: { threshold: number; aggregated: boolean };
}

export const CHAOS_SERVICES: ChaosService[] = [
  { name: 'web', type: 'webserver', metric: 'cpu_user', min: 1, max: 4, basePort: 8080, attached: 'web_disc', up: { threshold: 70, aggregated: false }, down: { threshold: 20, aggregated: false } },
  { name: 'api', type: 'api', metric: 'requests', min: 1, max: 3, basePort: 9080, attached: null, up: { threshold: 100, aggregated: true }, down: { threshold: 30, aggregated: true } },
  { name: 'queue', type: 'queue', metric: 'backlog', min: 2, max: 5, basePort: 10080, attached: null, up: { threshold: 50, aggregated: false }, down: { threshold: 10, aggregated: false } },
  { name: 'batch', type: 'batch', metric: 'load', min: 1, max: 3, basePort: 11080, attached: null, up: { threshold: 80, aggregated: true }, down: { threshold: 25, aggregated: false } },
];

/** The service a fleet unit name belongs to as its instance (`web@8081.service` -> web), or null (attached units too). */
export function serviceOfUnit(unit: string): ChaosService | null {
  const at = unit.indexOf('@');
  return at < 0 ? null : CHAOS_SERVICES.find((s) => s.name === unit.slice(0, at)) ?? null;
}

/** The instance a unit belongs to: itself, or for an attached unit (`web_disc@8081.service`) its parent's. */
export function instanceOfUnit(unit: string): string {
  const attachedOf = CHAOS_SERVICES.find((s) => s.attached !== null && unit.startsWith(`${s.attached}@`));
  return attachedOf ? `${attachedOf.name}${unit.slice(attachedOf.attached!.length)}` : unit;
}

/** The config, in the original's format; `{{UNITS}}` is the unit folder (EngineHarness fills it in). */
export function chaosConfig(): { config: string; units: Record<string, string> } {
  const policy = (s: ChaosService, dir: 'up' | 'down') => {
    const p = s[dir];
    return `    ${s.name}_${dir}:
      service_type: ${s.type}
      metric: ${s.metric}
      metric_aggregated: ${p.aggregated}
      comparative_operator: ${dir === 'up' ? 'gt' : 'lt'}
      threshold: ${p.threshold}
      period: ${dir === 'up' ? 2 : 3}
      period_unit: second
      cooldown_period: 4
      cooldown_period_unit: second
      stale_after: 3
      stale_after_unit: second
`;
  };
  const service = (s: ChaosService) => `    ${s.name}:
      name_of_unit_file: ${s.name}@.service
      type: ${s.type}
      min_instance: ${s.min}
      max_instance: ${s.max}
      base_instance_prefix_number: ${s.basePort}
      ports_per_instance: 1
${s.attached ? `      attached_service:\n        - ${s.attached}\n` : ''}      scale_up_policy:
        ScalingPolicy: ${s.name}_up
      scale_down_policy:
        ScalingPolicy: ${s.name}_down
${s.attached ? `    ${s.attached}:\n      name_of_unit_file: ${s.attached}@.service\n      type: attached_service\n` : ''}`;
  const config = `${engineConfigHead({ reconcile_interval: 2, reconcile_interval_unit: 'second', metrics_retention: 1, metrics_retention_unit: 'minute' })}  Service:
${CHAOS_SERVICES.map(service).join('')}  ScalingPolicy:
${CHAOS_SERVICES.map((s) => policy(s, 'up') + policy(s, 'down')).join('')}`;
  const units: Record<string, string> = {};
  for (const s of CHAOS_SERVICES) {
    units[`${s.name}@.service`] = `[Unit]\nDescription=${s.name} %i\n\n[Service]\nExecStart=/bin/sleep 3600\n`;
    if (s.attached) {
      units[`${s.attached}@.service`] = `[Unit]\nDescription=discovery for ${s.name} %i\nBindsTo=${s.name}@%i.service\n\n[Service]\nExecStart=/bin/sleep 3600\n\n[X-Fleet]\nMachineOf=${s.name}@%i.service\n`;
    }
  }
  return { config, units };
}

type Level = 'high' | 'mid' | 'low';

/** A service's load over time: levels held 5-15 s each, drawn from the seed (high and low more often than mid). */
function levelsOf(seed: number): (ms: number) => Level {
  const rand = prng(seed);
  const steps: { untilMs: number; level: Level }[] = [];
  let t = 0;
  return (ms) => {
    while (t <= ms) {
      const r = rand();
      const level: Level = r < 0.4 ? 'high' : r < 0.8 ? 'low' : 'mid';
      t += 5_000 + Math.floor(rand() * 10_000);
      steps.push({ untilMs: t, level });
    }
    return steps.find((s) => s.untilMs > ms)!.level;
  };
}

function valueAt(s: ChaosService, level: Level, jitter: number): number {
  const up = s.up.threshold;
  const down = s.down.threshold;
  if (level === 'high') return Math.round(up * (1.2 + 0.3 * jitter));
  if (level === 'low') return Math.round(down * (0.2 + 0.5 * jitter));
  return Math.round(down + (up - down) * (0.3 + 0.4 * jitter));
}

/** The uuid the load registers for an instance (`web@8081.service` -> `chaos-web-8081`). */
export function uuidOf(instance: string): string {
  return `chaos-${instance.replace('.service', '').replace('@', '-')}`;
}

export interface LoadStats {
  written: number;
  failed: number;
  /** Writes skipped because the previous write of the same series had not finished (etcd down). */
  skipped: number;
}

/**
 * Writes a sample every `everyMs` for every series the policies read: the aggregated stream of a service, and one
 * per launched instance (registered under `<application_base_path>/<type>/<uuid>/service_instance_name` first).
 * Each series' timestamps strictly increase, and a write is never retried (a retried put could land twice): a
 * sample is evaluated at most once only if it is written once.
 */
export class LoadWriter {
  readonly stats: LoadStats = { written: 0, failed: 0, skipped: 0 };
  private readonly levels = new Map<string, (ms: number) => Level>();
  private readonly lastTs = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private readonly registered = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly jitter: () => number;
  private readonly startedAt = Date.now();

  constructor(private readonly etcd: Etcd3, seed: number, private readonly instances: (service: string) => string[], private readonly everyMs = 400) {
    for (const [i, s] of CHAOS_SERVICES.entries()) this.levels.set(s.name, levelsOf(seed * 31 + i));
    this.jitter = prng(seed ^ 0x5eed);
  }

  /** The level each service is at now (for the report). */
  levelNow(service: string): Level {
    return this.levels.get(service)!(Date.now() - this.startedAt);
  }

  start(): void {
    this.timer = setInterval(() => this.round(), this.everyMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.inFlight.size > 0) await new Promise((r) => setTimeout(r, 50));
  }

  private round(): void {
    for (const s of CHAOS_SERVICES) {
      const level = this.levelNow(s.name);
      if (s.up.aggregated || s.down.aggregated) this.write(s, null, valueAt(s, level, this.jitter()));
      if (!s.up.aggregated || !s.down.aggregated) {
        for (const instance of this.instances(s.name)) this.write(s, uuidOf(instance), valueAt(s, level, this.jitter()), instance);
      }
    }
  }

  private write(s: ChaosService, uuid: string | null, value: number, instance?: string): void {
    const series = `${s.type}/${uuid ?? '_aggregate'}`;
    if (this.inFlight.has(series)) {
      this.stats.skipped += 1;
      return;
    }
    const ts = Math.max(Date.now(), (this.lastTs.get(series) ?? 0) + 1);
    this.lastTs.set(series, ts);
    this.inFlight.add(series);
    (async () => {
      if (uuid !== null && instance && !this.registered.has(uuid)) {
        await this.etcd.put(`/services/${s.type}/${uuid}/service_instance_name`).value(instance);
        this.registered.add(uuid);
      }
      await this.etcd.put(sampleKey(s.type, uuid, s.metric, ts)).value(String(value));
      this.stats.written += 1;
    })()
      .catch(() => { this.stats.failed += 1; })
      .finally(() => this.inFlight.delete(series));
  }
}
