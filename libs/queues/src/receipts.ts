import type { Redis } from 'ioredis';

/**
 * When the scheduler received each sample, by etcd revision: a sorted set (score = receipt time, member = revision)
 * next to the queues. Workers date a sample by its own receipt, not by the time a (deduplicated) check happened to
 * run. Like everything in Redis it may be wiped: a sample without an entry is dated by the job's hint or its run time.
 */
export function receiptsKey(prefix: string): string {
  return `${prefix}:dynamite:receipts`;
}

/**
 * How long receipts are kept (ms). A receipt matters only until the sample's first evaluation, which a check added
 * at the same moment makes: two minutes is far longer than a check waits in a healthy queue, and keeps the set at
 * (samples per second x 120) entries. A sample evaluated later than that is dated by its check's hint instead.
 */
export const RECEIPT_RETENTION_MS = 2 * 60_000;

export async function recordReceipts(redis: Redis, prefix: string, revisions: string[], receivedAt: number): Promise<void> {
  if (revisions.length === 0) return;
  await redis.zadd(receiptsKey(prefix), ...revisions.flatMap((r) => [receivedAt, r]));
}

export async function trimReceipts(redis: Redis, prefix: string, now: number): Promise<void> {
  await redis.zremrangebyscore(receiptsKey(prefix), '-inf', now - RECEIPT_RETENTION_MS);
}

/** Receipt times of the given revisions (null where unknown). */
export async function lookupReceipts(redis: Redis, prefix: string, revisions: string[]): Promise<(number | null)[]> {
  if (revisions.length === 0) return [];
  const scores = await redis.zmscore(receiptsKey(prefix), ...revisions);
  return scores.map((s) => (s === null ? null : Number(s)));
}
