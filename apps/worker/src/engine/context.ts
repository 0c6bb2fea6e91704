import type { FleetClient } from '@dynamite/fleet-client';
import type { EngineStore } from '@dynamite/store';
import type { Clock } from './clock';
import type { ConfigSource } from './config-source';
import type { JobProducer } from './job-producer';
import type { Logger } from './logger';
import type { EngineMetrics } from './metrics';

/** What every processor works with: the adapters (etcd, queues, fleet), the clock, logs and metrics. */
export interface EngineContext {
  store: EngineStore;
  config: ConfigSource;
  jobs: JobProducer;
  /** Replaced once the config is known when it names the fleet endpoint. */
  fleet: FleetClient;
  clock: Clock;
  log: Logger;
  metrics: EngineMetrics;
}
