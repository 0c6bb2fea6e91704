import type { Redis } from 'ioredis';
import { FleetClient, type FleetUnit } from '@dynamite/fleet-client';
import type { StateStore } from '@dynamite/store';

/**
 * Short, single-attempt checks of the three servers the engine depends on, for `/readyz`, `/api/services` and
 * `/metrics`. The engine's own clients retry for seconds (right for jobs, wrong for a probe), so every probe here
 * has its own deadline and the fleet probe uses a client without retries.
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
  redis: Redis;
  store: StateStore;
  /** The engine's current fleet client (it is replaced when the config names another endpoint). */
  fleet: () => FleetClient;
  timeoutMs: number;
}

export class Probes {
  private fastFleet: { base: FleetClient; fast: FleetClient } | null = null;

  constructor(private readonly targets: ProbeTargets) {}

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

  /** fleet's units, or the reason they could not be read. */
  async fleetUnits(): Promise<{ units: FleetUnit[] } | { error: string }> {
    try {
      return { units: await withDeadline(this.fleetClient().listUnits(), this.targets.timeoutMs * 2, 'fleet') };
    } catch (err) {
      return { error: message(err) };
    }
  }
}
