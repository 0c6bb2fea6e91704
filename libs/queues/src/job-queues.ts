import { Queue, type JobsOptions, type QueueOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ACTIONS_QUEUE, CHECKS_QUEUE, MAINTENANCE_QUEUE, NOTIFICATIONS_QUEUE } from '@dynamite/domain';

/** Retry policy of fleet actions: exponential backoff, then the failed set (where an operator retries by hand). */
export const ACTION_ATTEMPTS = Number(process.env.DYNAMITE_ACTION_ATTEMPTS ?? 5);
export const ACTION_BACKOFF_MS = Number(process.env.DYNAMITE_ACTION_BACKOFF_MS ?? 1_000);

/** Retry policy of webhook deliveries: 8 attempts 1, 2, 4 ... 64 s apart by default (about 2 minutes), then the failed set. */
export const WEBHOOK_ATTEMPTS = Number(process.env.DYNAMITE_WEBHOOK_ATTEMPTS ?? 8);
export const WEBHOOK_BACKOFF_MS = Number(process.env.DYNAMITE_WEBHOOK_BACKOFF_MS ?? 1_000);

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
  [NOTIFICATIONS_QUEUE]: {
    attempts: WEBHOOK_ATTEMPTS,
    backoff: { type: 'exponential', delay: WEBHOOK_BACKOFF_MS },
    // Kept a day, so the same record committed again (a retried job) finds its delivery and is not sent twice.
    removeOnComplete: { age: 86_400, count: 10_000 },
    removeOnFail: { count: 10_000 },
  },
};

/** The engine's four queues, sharing one Redis connection and one key prefix. */
export class JobQueues {
  readonly checks: Queue;
  readonly actions: Queue;
  readonly maintenance: Queue;
  readonly notifications: Queue;

  constructor(readonly connection: Redis, readonly prefix: string) {
    const base: QueueOptions = { connection, prefix };
    this.checks = new Queue(CHECKS_QUEUE, { ...base, defaultJobOptions: DEFAULT_JOB_OPTIONS[CHECKS_QUEUE] });
    this.actions = new Queue(ACTIONS_QUEUE, { ...base, defaultJobOptions: DEFAULT_JOB_OPTIONS[ACTIONS_QUEUE] });
    this.maintenance = new Queue(MAINTENANCE_QUEUE, { ...base, defaultJobOptions: DEFAULT_JOB_OPTIONS[MAINTENANCE_QUEUE] });
    this.notifications = new Queue(NOTIFICATIONS_QUEUE, { ...base, defaultJobOptions: DEFAULT_JOB_OPTIONS[NOTIFICATIONS_QUEUE] });
  }

  all(): Queue[] {
    return [this.checks, this.actions, this.maintenance, this.notifications];
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
