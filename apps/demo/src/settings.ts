import { DemoError } from './net';

export interface DemoOptions {
  /** Seconds of traffic (the phases); startup and shutdown come on top. Default 80. */
  durationS?: number;
  /** After the traffic, stay up (quiet traffic) until Ctrl-C. */
  keep?: boolean;
  /** etcd to use (`host:port`); default: 127.0.0.1:2379 when it answers and is unused, else a private one. */
  etcdEndpoint?: string;
  /** Redis to use; default: redis://127.0.0.1:6379 when it answers, else a private one. */
  redisUrl?: string;
  /** How many worker processes (default 2). */
  workers?: number;
  out?: NodeJS.WriteStream;
  /** Redraw in place (default: whether `out` is a terminal). */
  tty?: boolean;
  /** Keep the run dir (config, units, logs) after a successful run too. */
  keepLogs?: boolean;
}

export const DEMO_DEFAULTS = {
  durationS: 80,
  minDurationS: 40,
  workers: 2,
  /** Requests per second in the quiet phases and at the peak; one instance serves about 90 per second. */
  quietRate: 4,
  peakRate: 140,
  costMs: 10,
  workMs: 1,
} as const;

/** The options with their defaults filled in and checked. */
export interface DemoSettings {
  out: NodeJS.WriteStream;
  tty: boolean;
  durationS: number;
  workers: number;
  keep: boolean;
  keepLogs: boolean;
  etcdEndpoint: string | undefined;
  redisUrl: string | undefined;
}

/** Fills in the defaults; a duration or worker count the demo cannot work with is a DemoError (exit code 2). */
export function settingsOf(opts: DemoOptions): DemoSettings {
  const out = opts.out ?? process.stdout;
  const durationS = opts.durationS ?? DEMO_DEFAULTS.durationS;
  const workers = opts.workers ?? DEMO_DEFAULTS.workers;
  if (!Number.isFinite(durationS) || durationS < DEMO_DEFAULTS.minDurationS) {
    throw new DemoError(`--duration must be at least ${DEMO_DEFAULTS.minDurationS} seconds (got ${durationS}): a scale up and a scale down need that much`, 2);
  }
  if (!Number.isInteger(workers) || workers < 1) throw new DemoError(`workers must be a positive integer (got ${workers})`, 2);
  return {
    out,
    tty: opts.tty ?? Boolean(out.isTTY),
    durationS,
    workers,
    keep: opts.keep === true,
    keepLogs: opts.keepLogs === true,
    etcdEndpoint: opts.etcdEndpoint,
    redisUrl: opts.redisUrl,
  };
}
