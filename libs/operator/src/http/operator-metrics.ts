import { Gauge, Registry } from 'prom-client';
import type { Queue } from 'bullmq';
import { prefixEnd } from '@dynamite/domain';
import type { StateStore } from '@dynamite/store';
import type { EngineMetrics, LeadershipStatus } from '@dynamite/engine';
import { Cached, type ReadModel } from '../read-model';
import { withDeadline, type Dependency } from './probes';

/** BullMQ job states reported per queue (every state `getJobCounts` knows). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

export interface ScrapeSources {
  metrics: EngineMetrics;
  /** The listener's own store and queues (its own etcd and Redis connections). */
  store: StateStore;
  queues: Queue[];
  readModel: ReadModel;
  /** Revision of the newest sample event the scheduler's watch turned into jobs (null before it started). */
  watchRevision: () => string | null;
  /** The metrics prefix the watch reads (`/metrics/`). */
  watchPrefix: () => string | null;
  /** The scheduler's place in the election; null when not a scheduler. */
  leadership?: () => LeadershipStatus | null;
  timeoutMs: number;
  /** How old the gauges may be (ms): scrapes in between reuse the last values. */
  maxAgeMs: number;
}

/**
 * `/metrics`: the engine's registry (counters and histograms the scheduler and worker increment as they work,
 * plus process metrics) followed by gauges computed from Redis, etcd and fleet through the read model. The gauges
 * live in their own registry so one EngineMetrics can be served by several listeners. The gauges are computed at
 * most once per `maxAgeMs`, however many scrapers ask; the engine's own counters are always current.
 */
export class OperatorMetrics {
  readonly registry = new Registry();
  private readonly queueJobs: Gauge<'queue' | 'state'>;
  private readonly armedTimers: Gauge<'service' | 'policy'>;
  private readonly cooldownsActive: Gauge<'service' | 'policy'>;
  private readonly cooldownRemaining: Gauge<'service' | 'policy'>;
  private readonly desired: Gauge<'service'>;
  private readonly actual: Gauge<'service'>;
  private readonly min: Gauge<'service'>;
  private readonly max: Gauge<'service'>;
  private readonly actions: Gauge<'service' | 'status'>;
  private readonly watchLag: Gauge<string>;
  private readonly watchPending: Gauge<string>;
  private readonly up: Gauge<'dependency'>;
  private readonly scrapeErrors: Gauge<'source'>;
  private readonly gauges: Cached<void>;
  private readonly leader: Gauge<'id'>;
  private readonly dryRun: Gauge<'service'>;
  private readonly paused: Gauge<'service' | 'direction'>;
  private readonly protectedInstances: Gauge<'service'>;

  constructor(private readonly src: ScrapeSources) {
    this.gauges = new Cached(() => this.refresh(), src.maxAgeMs);
    const registers = [this.registry];
    this.queueJobs = new Gauge({ name: 'dynamite_queue_jobs', help: 'Jobs per queue and state (BullMQ getJobCounts) at scrape time', labelNames: ['queue', 'state'], registers });
    this.armedTimers = new Gauge({ name: 'dynamite_armed_timers', help: 'Policy state machines with a running period timer', labelNames: ['service', 'policy'], registers });
    this.cooldownsActive = new Gauge({ name: 'dynamite_cooldowns_active', help: '1 while the policy is in cooldown, else 0', labelNames: ['service', 'policy'], registers });
    this.cooldownRemaining = new Gauge({ name: 'dynamite_cooldown_remaining_seconds', help: 'Seconds until the policy cooldown ends (0 when none)', labelNames: ['service', 'policy'], registers });
    this.desired = new Gauge({ name: 'dynamite_instances_desired', help: 'Recorded active instances (creating + launched) per service', labelNames: ['service'], registers });
    this.actual = new Gauge({ name: 'dynamite_instances_actual', help: 'Instances fleet reports launched per service (absent when fleet is unreachable)', labelNames: ['service'], registers });
    this.min = new Gauge({ name: 'dynamite_instances_min', help: 'min_instance per service', labelNames: ['service'], registers });
    this.max = new Gauge({ name: 'dynamite_instances_max', help: 'max_instance per service', labelNames: ['service'], registers });
    this.actions = new Gauge({ name: 'dynamite_actions_unfinished', help: 'Recorded fleet actions not done yet, by status (failed ones wait for a retry from the board)', labelNames: ['service', 'status'], registers });
    this.watchLag = new Gauge({ name: 'dynamite_watch_lag_revisions', help: "etcd's current revision minus the revision of the newest sample the scheduler's watch handled (grows with any etcd write while no samples arrive)", registers });
    this.watchPending = new Gauge({ name: 'dynamite_watch_pending_samples', help: 'Sample keys written after the revision the watch handled: samples not yet turned into jobs (0 when the watch is caught up)', registers });
    this.up = new Gauge({ name: 'dynamite_dependency_up', help: '1 when the dependency answered its probe during this scrape, else 0', labelNames: ['dependency'], registers });
    this.leader = new Gauge({ name: 'dynamite_leader', help: '1 on the scheduler that leads, 0 on a standby (label id: its name in the election)', labelNames: ['id'], registers });
    this.dryRun = new Gauge({ name: 'dynamite_dry_run', help: '1 when the service only records its decisions (engine-wide --dry_run or its dry_run: true), else 0', labelNames: ['service'], registers });
    this.paused = new Gauge({ name: 'dynamite_paused', help: '1 while an operator pauses the service\'s scaling in that direction, else 0', labelNames: ['service', 'direction'], registers });
    this.protectedInstances = new Gauge({ name: 'dynamite_protected_instances', help: 'Instances of the service protected from scale-in by an operator', labelNames: ['service'], registers });
    this.scrapeErrors = new Gauge({ name: 'dynamite_scrape_errors', help: '1 when this scrape could not compute the gauges of the source (see the log)', labelNames: ['source'], registers });
  }

  get contentType(): string {
    return this.src.metrics.registry.contentType;
  }

  /** The full text of one scrape. */
  async render(): Promise<string> {
    await this.gauges.get();
    const engine = await this.src.metrics.registry.metrics();
    const mine = await this.registry.metrics();
    return `${engine.trimEnd()}\n${mine}`;
  }

  private async refresh(): Promise<void> {
    const t = this.src.timeoutMs;
    const [probes, counts, overview, lag] = await Promise.all([
      this.src.readModel.readiness(),
      Promise.all(this.src.queues.map(async (q) => ({ queue: q.name, counts: await withDeadline(q.getJobCounts(...QUEUE_STATES), t, 'Redis') })))
        .catch(() => null),
      this.src.readModel.overview(0).catch(() => null),
      this.readWatchLag().catch(() => null),
    ]);

    // Everything was read; now replace the gauges in one synchronous step, so a scrape never sees a half-set.
    for (const g of [this.queueJobs, this.armedTimers, this.cooldownsActive, this.cooldownRemaining, this.desired, this.actual, this.min, this.max, this.actions, this.watchLag, this.watchPending, this.up, this.scrapeErrors, this.leader, this.dryRun, this.paused, this.protectedInstances]) {
      g.reset();
    }
    const self = this.src.leadership?.() ?? null;
    if (self) this.leader.set({ id: self.id }, self.role === 'leader' ? 1 : 0);
    for (const dep of ['redis', 'etcd', 'fleet'] as Dependency[]) this.up.set({ dependency: dep }, probes[dep].ok ? 1 : 0);
    this.scrapeErrors.set({ source: 'redis' }, counts === null ? 1 : 0);
    this.scrapeErrors.set({ source: 'etcd' }, overview === null ? 1 : 0);
    this.scrapeErrors.set({ source: 'fleet' }, overview?.fleet.reachable === false || (overview === null && !probes.fleet.ok) ? 1 : 0);
    if (counts) {
      for (const { queue, counts: c } of counts) {
        for (const state of QUEUE_STATES) this.queueJobs.set({ queue, state }, c[state] ?? 0);
      }
    }
    for (const svc of overview?.services ?? []) {
      this.desired.set({ service: svc.name }, svc.desired);
      if (svc.actual !== null) this.actual.set({ service: svc.name }, svc.actual);
      if (svc.min !== null) this.min.set({ service: svc.name }, svc.min);
      if (svc.max !== null) this.max.set({ service: svc.name }, svc.max);
      for (const p of svc.policies) {
        const labels = { service: svc.name, policy: p.name };
        this.armedTimers.set(labels, p.armed.length);
        this.cooldownsActive.set(labels, p.cooldown ? 1 : 0);
        this.cooldownRemaining.set(labels, p.cooldown ? p.cooldown.remainingMs / 1000 : 0);
      }
      this.dryRun.set({ service: svc.name }, svc.dryRun ? 1 : 0);
      for (const direction of ['up', 'down'] as const) this.paused.set({ service: svc.name, direction }, svc.paused?.active && svc.paused.directions.includes(direction) ? 1 : 0);
      this.protectedInstances.set({ service: svc.name }, svc.protected.length);
      for (const status of ['pending', 'failed'] as const) {
        this.actions.set({ service: svc.name, status }, svc.actions.filter((a) => a.status === status).length);
      }
    }
    if (lag) {
      this.watchLag.set(lag.revisions);
      this.watchPending.set(lag.pending);
    }
  }

  private async readWatchLag(): Promise<{ revisions: number; pending: number } | null> {
    const handled = this.src.watchRevision();
    const prefix = this.src.watchPrefix();
    if (handled === null || prefix === null) return null;
    const current = BigInt(await withDeadline(this.src.store.currentRevision(), this.src.timeoutMs, 'etcd'));
    const res = await withDeadline(
      this.src.store.etcd.kv.range({
        key: Buffer.from(prefix),
        range_end: Buffer.from(prefixEnd(prefix), 'latin1'),
        min_mod_revision: (BigInt(handled) + 1n).toString(),
        // Not count_only: etcd counts before it applies min_mod_revision; the keys it returns are filtered.
        keys_only: true,
      }),
      this.src.timeoutMs,
      'etcd',
    );
    const revisions = current - BigInt(handled);
    return { revisions: Number(revisions < 0n ? 0n : revisions), pending: res.kvs.length };
  }
}
