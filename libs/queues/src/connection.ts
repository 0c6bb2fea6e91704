import IORedis, { type Redis } from 'ioredis';

/** A Redis connection as BullMQ needs it (blocking commands must never time out on their own). */
export function createRedisConnection(url: string): Redis {
  return new IORedis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}
