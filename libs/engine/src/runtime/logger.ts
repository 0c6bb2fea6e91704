import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs: one JSON line per event on stderr. Lines about a decision carry `decisionId`.
 * DYNAMITE_LOG_LEVEL (default info) sets the level.
 */
export function createLogger(component: string, extra: Record<string, unknown> = {}): Logger {
  return pino(
    {
      name: 'dynamite',
      level: process.env.DYNAMITE_LOG_LEVEL ?? 'info',
      base: { component, pid: process.pid, ...extra },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
