import type { EngineSettings, TimeUnit } from './types';
import { joinPath, type ConfigError } from './errors';
import type { EngineEntry } from './schema';
import { durationMs } from './durations';
import { ENGINE_INTERVAL_MIN_MS } from './limits';

export const DEFAULT_ENGINE_ENTRY: EngineEntry = {
  metrics_retention: 10,
  metrics_retention_unit: 'minute',
  reconcile_interval: 10,
  reconcile_interval_unit: 'second',
};

/**
 * The `Engine:` section in milliseconds. Both are intervals of repeated engine jobs, so each is at least a
 * second (a smaller one rounds to nothing in BullMQ, or runs the job without pause) and at most 10 years.
 */
export function buildEngine(entry: EngineEntry): { settings: EngineSettings; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const duration = (key: 'metrics_retention' | 'reconcile_interval'): number => {
    const result = durationMs(entry[key], entry[`${key}_unit`] as TimeUnit, { minMs: ENGINE_INTERVAL_MIN_MS });
    if ('ms' in result) return result.ms;
    errors.push({ path: joinPath(['Engine', key]), message: result.error });
    return 0;
  };
  return {
    settings: { metricsRetentionMs: duration('metrics_retention'), reconcileIntervalMs: duration('reconcile_interval') },
    errors,
  };
}
