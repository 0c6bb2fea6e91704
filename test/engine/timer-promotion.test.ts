import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import IORedis, { type Redis } from 'ioredis';
import { JobProducer } from '@dynamite/engine';
import { JobQueues } from '@dynamite/queues';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis';
import { waitFor } from '../support/engine-harness';

// Redis wakes a worker blocked on a delayed job only at its own timer resolution (hz 10: up to 100 ms late), so the
// process that adds a period timer also promotes its job at the time. No worker runs here: BullMQ promotes delayed
// jobs only when a worker fetches, so a job that leaves the delayed set was promoted by the producer.
describe('period timers are promoted at their time by the process that added them', () => {
  let redis: Redis;
  let jobs: JobProducer;
  const prefix = uniquePrefix('timer-promotion');
  const machine = { service: 'web', policy: 'web_up', machine: 'u-1' };

  before(() => {
    redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    jobs = new JobProducer(new JobQueues(redis, prefix));
  });
  after(async () => {
    await jobs.close();
    await redis.quit();
    await deletePrefix(prefix);
  });

  test('a timer job waits delayed, then is waiting at its time', async () => {
    const now = Date.now();
    const job = await jobs.addTimer(machine, 't-1', now + 300, now);
    assert.equal(await job.getState(), 'delayed');
    const state = await waitFor(async () => {
      const s = await job.getState();
      return s === 'delayed' ? null : s;
    }, 5_000, 'the timer job promoted');
    assert.equal(state, 'waiting');
  });

  test('a cancelled timer is not promoted: a job added later under its id stays delayed', async () => {
    const now = Date.now();
    const job = await jobs.addTimer(machine, 't-2', now + 200, now);
    await jobs.cancelTimer(machine, 't-2');
    // The same id again, added behind the producer's back for much later: the cancelled promotion must not touch it.
    const later = await jobs.jobQueues.checks.add(job.name, job.data, { jobId: job.id!, delay: 60_000 });
    await waitFor(async () => Date.now() > now + 600, 5_000, 'past the cancelled time');
    assert.equal(await later.getState(), 'delayed');
  });
});
