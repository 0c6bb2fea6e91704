import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineHarness, waitFor, webServiceConfig } from '../support/engine-harness';
import { EtcdServer } from '../support/etcd';
import { RedisServer } from '../support/redis';

// A stop must not hang on servers that went away: the etcd3 and Redis clients retry a lost connection without end,
// so a SIGTERMed scheduler or worker must still exit when both are gone. The stop also has a deadline past which the
// process exits anyway (its jobs are taken over by others: every job is idempotent).
describe('SIGTERM after etcd and Redis went away', () => {
  let h: EngineHarness;
  let etcd: EtcdServer;
  let redis: RedisServer;

  before(async () => {
    redis = await RedisServer.start();
    h = await EngineHarness.start({
      suite: 'stop-no-servers',
      redisUrl: redis.url,
      ...webServiceConfig({ min: 1, max: 2 }),
      etcd: async () => {
        etcd = await EtcdServer.start();
        return { endpoint: etcd.endpoint, hosts: [etcd.url], stop: () => etcd.stop() };
      },
    });
  });
  after(async () => {
    await h?.stop();
    await redis?.stop();
  });

  test('the scheduler and the worker exit on their own', async () => {
    const scheduler = h.spawn('scheduler');
    const worker = h.spawn('worker');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance launched', h);
    await etcd.kill('SIGKILL');
    await redis.stop();
    for (const p of [scheduler, worker]) process.kill(-p.child.pid!, 'SIGTERM');
    // Each exits by itself (the test's own timeout is the only bound: it fails rather than hangs).
    const stopped = Date.now();
    await Promise.all([scheduler.exited, worker.exited]);
    process.stdout.write(`# both exited ${Date.now() - stopped} ms after SIGTERM\n`);
    for (const p of [scheduler, worker]) assert.equal(p.child.signalCode, null, `${p.name} exited by itself, not by a signal`);
    await etcd.restart();
    redis = await RedisServer.start(redis.port);
  });
});
