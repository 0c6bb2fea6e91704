import type { DecisionRecord, DynamiteConfig } from '@dynamite/domain';
import type { LeadershipStatus } from '@dynamite/engine';
import type { StateStore } from '@dynamite/store';
import { readLeaderView, type LeaderView } from './leadership-view';
import { buildOverview, listServiceNames, type Overview } from './overview';
import { DECISIONS_LIMIT, OVERVIEW_DECISIONS } from './http/api';
import { withDeadline, type Probes, type Readiness } from './http/probes';
import { readServiceTimeline, type ServiceTimeline } from './read-timeline';

/**
 * A value loaded at most once per `maxAgeMs`, by one load at a time: every caller in between shares the last result
 * (or its error), and callers that come while a load runs wait for that one. However many requests arrive, the
 * source sees at most one read per period.
 */
export class Cached<T> {
  private last: { at: number; ok: true; value: T } | { at: number; ok: false; error: unknown } | null = null;
  private loading: Promise<void> | null = null;

  constructor(private readonly load: () => Promise<T>, private readonly maxAgeMs: number, private readonly now: () => number = Date.now) {}

  /** The next `get` loads again (after a change the caller made itself). */
  clear(): void {
    this.last = null;
  }

  async get(): Promise<T> {
    if (this.last === null || this.now() - this.last.at >= this.maxAgeMs) {
      this.loading ??= this.load().then(
        (value) => { this.last = { at: this.now(), ok: true, value }; },
        (error: unknown) => { this.last = { at: this.now(), ok: false, error }; },
      ).finally(() => { this.loading = null; });
      await this.loading;
    }
    const last = this.last!;
    if (!last.ok) throw last.error;
    return last.value;
  }
}

export interface ReadModelSources {
  /** The listener's own store (its own etcd client). */
  store: StateStore;
  config: () => Promise<DynamiteConfig>;
  probes: Probes;
  /** Wall clock for the views (remaining times). */
  now: () => number;
  /** How old an answer may be (ms). */
  maxAgeMs: number;
  /** Deadline of one refresh (ms). */
  timeoutMs: number;
  /** The answering scheduler's place in the election; null when it is not a scheduler. */
  leadership?: () => LeadershipStatus | null;
}

/** What the read model knows of the engine at one moment: the overview and the names the API accepts. */
export interface Snapshot {
  overview: Overview;
  /** Services the operator can ask about: configured ones (attached included) and ones etcd still records. */
  known: Set<string>;
}

/** The most decision records one service's list keeps: the API's `limit` maximum. */
const DECISIONS_KEPT = DECISIONS_LIMIT.max;
/** The most decision records per service in an overview: the API's `decisions` maximum. */
const OVERVIEW_DECISIONS_KEPT = OVERVIEW_DECISIONS.max;
/** The newest decision records a timeline lists (whatever their age). */
const TIMELINE_RECENT_DECISIONS = 25;
/** Timelines (service x minutes) cached at once; the oldest asked for goes first. */
const TIMELINES_KEPT = 64;

/**
 * The operator's read model: everything `/api`, `/metrics` and `/readyz` answer, refreshed from etcd, Redis and
 * fleet at most once per `maxAgeMs`, whatever the request rate. Answers are at most that old.
 */
export class ReadModel {
  private readonly snapshot: Cached<Snapshot>;
  private readonly ready: Cached<Readiness>;
  private readonly decisions = new Map<string, Cached<DecisionRecord[]>>();
  private readonly leader: Cached<LeaderView>;
  private readonly timelines = new Map<string, Cached<ServiceTimeline | null>>();

  constructor(private readonly src: ReadModelSources) {
    this.snapshot = new Cached(() => withDeadline(this.readSnapshot(), src.timeoutMs * 2, 'etcd'), src.maxAgeMs);
    this.ready = new Cached(() => src.probes.readiness(), src.maxAgeMs);
    this.leader = new Cached(() => withDeadline(readLeaderView(src.store.etcd, src.leadership?.() ?? null), src.timeoutMs, 'etcd'), src.maxAgeMs);
  }

  /** Who leads the schedulers (from the election keys) and this scheduler's own place. */
  leaderView(): Promise<LeaderView> {
    return this.leader.get();
  }

  private async readSnapshot(): Promise<Snapshot> {
    const [config, fleet] = await Promise.all([this.src.config(), this.src.probes.fleetUnits()]);
    const [overview, names] = await Promise.all([
      buildOverview(this.src.store, config, { now: this.src.now(), decisions: OVERVIEW_DECISIONS_KEPT, fleet }),
      listServiceNames(this.src.store, config),
    ]);
    return { overview, known: new Set([...names.map((n) => n.name), ...config.services.map((s) => s.name)]) };
  }

  /** The overview with at most `decisions` records per service (newest first). */
  async overview(decisions: number): Promise<Overview> {
    const { overview } = await this.snapshot.get();
    return { ...overview, services: overview.services.map((s) => ({ ...s, decisions: s.decisions.slice(0, decisions) })) };
  }

  /** Whether the operator can ask about `service`, and the services it can. */
  async knows(service: string): Promise<{ known: boolean; services: string[] }> {
    const { overview, known } = await this.snapshot.get();
    return { known: known.has(service), services: overview.services.map((s) => s.name) };
  }

  /** The newest `limit` decision records of a known service. */
  async decisionsOf(service: string, limit: number): Promise<DecisionRecord[]> {
    if (!(await this.knows(service)).known) return [];
    let cached = this.decisions.get(service);
    if (!cached) {
      cached = new Cached(() => withDeadline(this.src.store.listDecisions(service, DECISIONS_KEPT), this.src.timeoutMs * 2, 'etcd'), this.src.maxAgeMs);
      this.decisions.set(service, cached);
    }
    return (await cached.get()).slice(0, limit);
  }

  /**
   * One service's last `minutes` for the `/ui` page (null: an attached service, shown in its parent). Read for that
   * service alone (never every service's samples), at most once per `maxAgeMs` per (service, minutes).
   */
  async timeline(service: string, minutes: number): Promise<ServiceTimeline | null> {
    const key = `${service}\u0000${minutes}`;
    let cached = this.timelines.get(key);
    if (cached) {
      this.timelines.delete(key);
    } else {
      cached = new Cached(() => withDeadline(this.readTimeline(service, minutes), this.src.timeoutMs * 2, 'etcd'), this.src.maxAgeMs);
      if (this.timelines.size >= TIMELINES_KEPT) this.timelines.delete(this.timelines.keys().next().value!);
    }
    this.timelines.set(key, cached);
    return cached.get();
  }

  private async readTimeline(service: string, minutes: number): Promise<ServiceTimeline | null> {
    const [{ overview }, config, recent] = await Promise.all([this.snapshot.get(), this.src.config(), this.decisionsOf(service, TIMELINE_RECENT_DECISIONS)]);
    const view = overview.services.find((s) => s.name === service);
    if (!view) return null;
    return readServiceTimeline(this.src.store, config, view, { now: this.src.now(), minutes, recent });
  }

  /** Forgets the overview and the decision lists: the next answer reads etcd (after a change made through the API). */
  invalidate(): void {
    this.snapshot.clear();
    for (const cached of this.decisions.values()) cached.clear();
    for (const cached of this.timelines.values()) cached.clear();
  }

  readiness(): Promise<Readiness> {
    return this.ready.get();
  }
}
