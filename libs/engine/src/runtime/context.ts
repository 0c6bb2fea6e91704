import type { Redis } from 'ioredis';
import { FleetClient } from '@dynamite/fleet-client';
import { JobQueues } from '@dynamite/queues';
import { StateStore, createEtcdClient, type EtcdConnectionOptions } from '@dynamite/store';
import { systemClock, type Clock } from './clock';
import { ConfigSource } from './config-source';
import { JobProducer } from './job-producer';
import type { Logger } from './logger';
import { EngineMetrics } from './metrics';
import { Notifier } from './notifier';
import { recordRejectionSink } from './record-rejections';
import { SampleRejections } from './sample-rejections';

/** What every processor works with: the adapters (etcd, queues, fleet), the clock, logs and metrics. */
export interface EngineContext {
  store: StateStore;
  config: ConfigSource;
  jobs: JobProducer;
  /** Replaced once the config is known when it names the fleet endpoint. */
  fleet: FleetClient;
  clock: Clock;
  log: Logger;
  metrics: EngineMetrics;
  /** Samples that cannot be used, counted and logged once each. */
  rejections: SampleRejections;
  /** Webhook deliveries of committed records (`Notifications`). */
  notifier: Notifier;
}

export type FleetClientOptions = ConstructorParameters<typeof FleetClient>[0];

/** Builds the engine context a scheduler, a worker or `dynamite run` works with. */
export function createEngineContext(opts: {
  etcd: EtcdConnectionOptions; connection: Redis; queuePrefix: string; fleetEndpoint: string; clock?: Clock; log: Logger; metrics?: EngineMetrics;
  fleet?: FleetClientOptions;
}): EngineContext {
  const metrics = opts.metrics ?? new EngineMetrics();
  const store = new StateStore(createEtcdClient(opts.etcd), recordRejectionSink(metrics, opts.log));
  const config = new ConfigSource(store, { watchClient: () => createEtcdClient(opts.etcd) });
  const jobs = new JobProducer(new JobQueues(opts.connection, opts.queuePrefix));
  return {
    store,
    config,
    jobs,
    fleet: new FleetClient({ ...(opts.fleet ?? {}), endpoint: opts.fleetEndpoint }),
    clock: opts.clock ?? systemClock,
    log: opts.log,
    metrics,
    rejections: new SampleRejections({ metrics, store, log: opts.log }),
    notifier: new Notifier(config, jobs, opts.log),
  };
}

/**
 * The fleet endpoint: -f/--fleet_endpoint when given, else the config's FleetAPIEndpoint, else the default.
 * (The original used the flag at first start and the config everywhere else; one rule is simpler.)
 */
export async function useConfiguredFleetEndpoint(ctx: EngineContext, opts: { fleetEndpointExplicit?: boolean; fleet?: FleetClientOptions; fleetEndpoint?: string }): Promise<void> {
  if (opts.fleetEndpointExplicit) return;
  let configured: { ip: string; port: number } | null = null;
  try {
    configured = (await ctx.config.current()).fleetEndpoint;
  } catch {
    return; // no stored config yet: keep the default
  }
  // A config without one (again, after a hot reload): back to the flag's default.
  const endpoint = configured ? `${configured.ip}:${configured.port}` : opts.fleetEndpoint;
  if (endpoint === undefined) return;
  const next = new FleetClient({ ...(opts.fleet ?? {}), endpoint });
  // Called again on every config change (hot reload): a client for the same endpoint keeps its connections.
  if (next.endpoint.baseUrl !== ctx.fleet.endpoint.baseUrl) ctx.fleet = next;
}
