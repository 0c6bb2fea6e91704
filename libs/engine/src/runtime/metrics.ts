import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The engine's Prometheus metrics. Each process has its own registry; the scheduler's HTTP listener serves its
 * own plus gauges computed from etcd and Redis at scrape time (instances, armed timers, queue depths).
 */
export class EngineMetrics {
  readonly registry = new Registry();
  readonly samplesIngested: Counter<'policy'>;
  readonly samplesRejected: Counter<'reason'>;
  readonly decisions: Counter<'service' | 'outcome' | 'reason'>;
  readonly fleetActions: Counter<'service' | 'kind' | 'result'>;
  readonly fleetActionSeconds: Histogram<'kind'>;
  readonly expiryToActionSeconds: Histogram<'service'>;
  readonly jobsProcessed: Counter<'queue' | 'name' | 'result'>;
  readonly watchResyncs: Counter<string>;
  readonly recordsRejected: Counter<'kind' | 'reason'>;
  readonly webhookDeliveries: Counter<'webhook' | 'result'>;
  /** Key -> the version last counted as rejected (bounded): each bad version of a record is counted once. */
  private readonly rejectedVersions = new Map<string, string>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'dynamite_' });
    const registers = [this.registry];
    this.samplesIngested = new Counter({ name: 'dynamite_samples_ingested_total', help: 'Samples evaluated by a policy state machine', labelNames: ['policy'], registers });
    this.samplesRejected = new Counter({ name: 'dynamite_samples_rejected_total', help: 'Samples skipped as malformed or out of order, by reason', labelNames: ['reason'], registers });
    this.decisions = new Counter({ name: 'dynamite_decisions_total', help: 'Decision records written, by outcome and reason', labelNames: ['service', 'outcome', 'reason'], registers });
    this.fleetActions = new Counter({ name: 'dynamite_fleet_actions_total', help: 'fleet actions carried out, by result', labelNames: ['service', 'kind', 'result'], registers });
    this.fleetActionSeconds = new Histogram({
      name: 'dynamite_fleet_action_seconds', help: 'Duration of fleet actions (all units launched or destroyed)', labelNames: ['kind'], registers,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    });
    this.expiryToActionSeconds = new Histogram({
      name: 'dynamite_expiry_to_action_seconds', help: 'Time from a period timer expiry to fleet receiving the first PUT of its action', labelNames: ['service'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    });
    this.jobsProcessed = new Counter({ name: 'dynamite_jobs_processed_total', help: 'Jobs processed by this worker', labelNames: ['queue', 'name', 'result'], registers });
    this.watchResyncs = new Counter({ name: 'dynamite_watch_resyncs_total', help: 'Watch (re)starts resynchronised by a range read: after a compacted, missing or untrustworthy revision', registers });
    this.webhookDeliveries = new Counter({ name: 'dynamite_webhook_deliveries_total', help: 'Webhook delivery attempts by result: delivered, retry, failed (out of attempts), dropped (webhook no longer configured)', labelNames: ['webhook', 'result'], registers });
    this.recordsRejected = new Counter({ name: 'dynamite_records_rejected_total', help: 'Records under /_dynamite skipped because they fail their schema or name another service\'s units, by kind and reason (each version of a key once)', labelNames: ['kind', 'reason'], registers });
  }

  /** Counts a skipped record once per version of its key; true the first time (when the caller logs it). */
  countRejectedRecord(kind: string, reason: string, key: string, version: string): boolean {
    if (this.rejectedVersions.get(key) === version) return false;
    if (this.rejectedVersions.size >= 10_000) this.rejectedVersions.delete(this.rejectedVersions.keys().next().value!);
    this.rejectedVersions.set(key, version);
    this.recordsRejected.inc({ kind, reason });
    return true;
  }
}
