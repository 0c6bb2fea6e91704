import { Queue, type JobsOptions, type QueueOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ACTIONS_QUEUE, CHECKS_QUEUE, MAINTENANCE_QUEUE } from '@dynamite/domain';

/** Retry policy of fleet actions: exponential backoff, then the failed set (where an operator retries by hand). */
export const ACTION_ATTEMPTS = Number(process.env.DYNAMITE_ACTION_ATTEMPTS ?? 5);
export const ACTION_BACKOFF_MS = Number(process.env.DYNAMITE_ACTION_BACKOFF_MS ?? 1_000);

export const DEFAULT_JOB_OPTIONS: Record<string, JobsOptions> = {
  [CHECKS_QUEUE]: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 200 },
    removeOnComplete: { count: 500 },
    removeOnFail: { count: 1000 },
  },
  [ACTIONS_QUEUE]: {
    attempts: ACTION_ATTEMPTS,
    backoff: { type: 'exponential', delay: ACTION_BACKOFF_MS },
    // Kept so a retried or re-added action id stays deduplicated and the board can show history.
    removeOnComplete: { count: 2000 },
    removeOnFail: false,
  },
  [MAINTENANCE_QUEUE]: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: { count: 100 },
    removeOnFail: { count: 100 },
  },
};

/** The engine's three queues, sharing one Redis connection and one key prefix. */
export class JobQueues {
  readonly checks: Queue;
  readonly actions: Queue;
  readonly maintenance: Queue;

  constructor(readonly connection: Redis, readonly prefix: string) {
    const base: QueueOptions = { connection, prefix };
    this.checks = new Queue(CHECKS_QUEUE, { ...base, defaultJobOptions: DEFAULT_JOB_OPTIONS[CHECKS_QUEUE] });
    this.actions = new Queue(ACTIONS_QUEUE, { ...base, defaultJobOptions: DEFAULT_JOB_OPTIONS[ACTIONS_QUEUE] });
    this.maintenance = new Queue(MAINTENANCE_QUEUE, { ...base, defaultJobOptions: DEFAULT_JOB_OPTIONS[MAINTENANCE_QUEUE] });
  }

  all(): Queue[] {
    return [this.checks, this.actions, this.maintenance];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}

/**
 * A marker key in Redis: when it is gone, Redis was wiped (or is new), and the scheduler must rebuild what only
 * lived in Redis (job schedulers, delayed timer jobs, pending action jobs) from etcd.
 */
export function epochKey(prefix: string): string {
  return `${prefix}:dynamite:epoch`;
}
