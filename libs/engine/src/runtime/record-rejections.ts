import type { RecordRejection, RejectionSink } from '@dynamite/store';
import type { Logger } from './logger';
import type { EngineMetrics } from './metrics';

/**
 * Where a store reports the records it skipped (libs/store/src/records.ts): counted in
 * `dynamite_records_rejected_total{kind,reason}` and logged with the key, once per version of the key, however
 * often it is read again.
 */
export function recordRejectionSink(metrics: EngineMetrics, log: Logger): RejectionSink {
  return (r: RecordRejection) => {
    if (!metrics.countRejectedRecord(r.kind, r.reason, r.key, `${r.modRevision}|${r.reason}`)) return;
    log.warn({ key: r.key, kind: r.kind, reason: r.reason, modRevision: r.modRevision }, `record skipped, never acted on: ${r.key}: ${r.message}`);
  };
}
