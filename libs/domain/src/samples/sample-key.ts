import { trimTrailingSlashes } from './paths';
import { parseIsoTimestamp } from './timestamp';
import { quoteForMessage } from './quote';

/**
 * Sample keys, as producers write them under `ETCD.metrics_base_path`:
 *   per instance  `<base>/<service_type>/<uuid>/<metric_dir>/<timestamp>`
 *   aggregated    `<base>/<service_type>/<metric_dir>/<timestamp>`
 * The timestamp is the key's last segment (the original ignored any time inside the value).
 */

export type SampleKey =
  | { kind: 'instance'; serviceType: string; uuid: string; metricDir: string; tsKey: string; ts: number }
  | { kind: 'aggregate'; serviceType: string; metricDir: string; tsKey: string; ts: number };

export type SampleKeyError = 'outside_base' | 'bad_depth' | 'bad_timestamp' | 'empty_segment';

export type SampleKeyResult =
  | { ok: true; sample: SampleKey }
  | { ok: false; reason: SampleKeyError; message: string };

export function parseSampleKey(key: string, metricsBasePath: string): SampleKeyResult {
  // Keys are untrusted: shown escaped (one line) and cut short in messages.
  const shown = quoteForMessage(key, { max: 200 });
  const prefix = `${trimTrailingSlashes(metricsBasePath)}/`;
  if (!key.startsWith(prefix)) {
    return fail('outside_base', `key ${shown} is not under the metrics base path ${prefix}`);
  }
  const segments = key.slice(prefix.length).split('/');
  if (segments.some((s) => s === '')) {
    return fail('empty_segment', `key ${shown} has an empty path segment`);
  }
  if (segments.length !== 3 && segments.length !== 4) {
    return fail(
      'bad_depth',
      `key ${shown} has ${segments.length} segments after ${prefix}; expected 4 (<type>/<uuid>/<metric>/<timestamp>) ` +
        `or 3 (<type>/<metric>/<timestamp> for aggregated metrics)`,
    );
  }
  const tsKey = segments[segments.length - 1]!;
  const ts = parseIsoTimestamp(tsKey);
  if (ts === null) {
    return fail('bad_timestamp', `key ${shown} ends in ${quoteForMessage(tsKey)}, which is not an ISO 8601 timestamp like 2015-07-28T13:15:50.631Z`);
  }
  if (segments.length === 4) {
    const [serviceType, uuid, metricDir] = segments as [string, string, string, string];
    return { ok: true, sample: { kind: 'instance', serviceType, uuid, metricDir, tsKey, ts } };
  }
  const [serviceType, metricDir] = segments as [string, string, string];
  return { ok: true, sample: { kind: 'aggregate', serviceType, metricDir, tsKey, ts } };
}

function fail(reason: SampleKeyError, message: string): SampleKeyResult {
  return { ok: false, reason, message };
}
