import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';

export const REDIS_URL = process.env.DYNAMITE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A queue prefix no other suite uses, so suites can share one Redis. */
export function uniquePrefix(suite: string): string {
  return `dyntest-${suite}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under a prefix (only the keys this suite created). */
export async function deletePrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new IORedis(url, { maxRetriesPerRequest: null });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
