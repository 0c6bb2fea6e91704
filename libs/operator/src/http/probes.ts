import type { Redis } from 'ioredis';
import { FleetClient, type FleetUnit } from '@dynamite/fleet-client';
import type { StateStore } from '@dynamite/store';

/**
 * Short, single-attempt checks of the three servers the engine depends on, for `/readyz`, `/api/services` and
 * `/metrics`. The engine's own clients retry for seconds (right for jobs, wrong for a probe), so every probe here
 * has its own deadline and the fleet probe uses a client without retries. They run on the listener's own Redis and
 * etcd connections, never the engine's.
 */

export type Dependency = 'redis' | 'etcd' | 'fleet';

export interface ProbeResult {
  ok: boolean;
  ms: number;
  error: string | null;
}

export class ProbeTimeout extends Error {}

export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface ProbeTargets {
  /** The listener's own connections. */
  redis: Redis;
  store: StateStore;
  /** The engine's current fleet client (it is replaced when the config names another endpoint). */
  fleet: () => FleetClient;
  /** The scheduler's sample watch, when this listener is a scheduler's: its progress is part of readiness. */
  watch?: WatchHandle | null;
  timeoutMs: number;
}

export type Readiness = Record<Dependency, ProbeResult> & { watch?: ProbeResult };

export class Probes {
  private fastFleet: { base: FleetClient; fast: FleetClient } | null = null;
  private readonly watchProgress: WatchProgress | null;

  constructor(private readonly targets: ProbeTargets) {
    this.watchProgress = targets.watch ? new WatchProgress(targets.watch, targets.store) : null;
  }

  /** A client to the same endpoint as the engine's, without retries and with a short timeout. */
  fleetClient(): FleetClient {
    const base = this.targets.fleet();
    if (this.fastFleet?.base !== base) {
      const endpoint = base.endpoint.socketPath !== undefined ? base.endpoint.url : base.endpoint.baseUrl;
      this.fastFleet = { base, fast: new FleetClient({ endpoint, timeoutMs: this.targets.timeoutMs, retry: { attempts: 1 } }) };
    }
    return this.fastFleet.fast;
  }

  private async timed(what: string, work: () => Promise<unknown>): Promise<ProbeResult> {
    const started = Date.now();
    try {
      await withDeadline(work(), this.targets.timeoutMs, what);
      return { ok: true, ms: Date.now() - started, error: null };
    } catch (err) {
      return { ok: false, ms: Date.now() - started, error: message(err) };
    }
  }

  redis(): Promise<ProbeResult> {
    return this.timed('Redis', async () => {
      const answer = await this.targets.redis.ping();
      if (answer !== 'PONG') throw new Error(`Redis answered ${JSON.stringify(answer)} to PING`);
    });
  }

  etcd(): Promise<ProbeResult> {
    return this.timed('etcd', () => this.targets.store.currentRevision());
  }

  fleet(): Promise<ProbeResult> {
    return this.timed('fleet', () => this.fleetClient().ping());
  }

  all(): Promise<Record<Dependency, ProbeResult>> {
    return Promise.all([this.redis(), this.etcd(), this.fleet()]).then(([redis, etcd, fleet]) => ({ redis, etcd, fleet }));
  }

  /** The three dependencies and, for a scheduler, whether its sample watch keeps up. */
  async readiness(): Promise<Readiness> {
    const progress = this.watchProgress;
    const [deps, watch] = await Promise.all([this.all(), progress ? this.timed('the sample watch check', () => progress.check()) : null]);
    return watch ? { ...deps, watch } : deps;
  }

  /** fleet's units, or the reason they could not be read. */
  async fleetUnits(): Promise<{ units: FleetUnit[] } | { error: string }> {
    try {
      return { units: await withDeadline(this.fleetClient().listUnits(), this.targets.timeoutMs * 2, 'fleet') };
    } catch (err) {
      return { error: message(err) };
    }
  }
}

/** What the scheduler's sample watch shows of itself: the revision of the newest sample event it handled. */
export interface WatchHandle {
  revision: string | null;
  prefix: string;
  /** False on a standby scheduler, which watches nothing by design (absent: always watching). */
  active?: boolean;
}

/**
 * Whether the sample watch is keeping up, for `/readyz`. A watch can look fine -- connected, no error -- and still
 * see nothing (e.g. watching from a revision in the future). So: not ready when its revision is ahead of etcd's, or
 * when samples newer than what it handled exist and it has handled nothing for `stallMs`.
 */
export class WatchProgress {
  private behindSince: { handled: string; at: number } | null = null;

  constructor(private readonly watch: WatchHandle, private readonly store: StateStore, private readonly stallMs = 5_000, private readonly now = () => Date.now()) {}

  async check(): Promise<void> {
    if (this.watch.active === false) return;
    const handled = this.watch.revision;
    if (handled === null) throw new Error('the sample watch has not started');
    const res = await this.store.etcd.getAll().prefix(this.watch.prefix).sort('Mod', 'Descend').limit(1).exec();
    const current = BigInt(res.header.revision);
    if (BigInt(handled) > current) throw new Error(`the sample watch is at revision ${handled}, ahead of etcd's ${current}: it sees nothing`);
    const newest = res.kvs[0] ? BigInt(res.kvs[0].mod_revision) : 0n;
    if (newest <= BigInt(handled)) {
      this.behindSince = null;
      return;
    }
    // Behind: fine while it moves; a stall is counted from the first probe that saw it behind at this revision.
    if (this.behindSince?.handled !== handled) this.behindSince = { handled, at: this.now() };
    const stalled = this.now() - this.behindSince.at;
    if (stalled > this.stallMs) {
      throw new Error(`the sample watch has handled nothing after revision ${handled} for ${Math.round(stalled / 1000)} s while samples up to revision ${newest} were written`);
    }
  }
}
