import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisUrlError, parseSentinelUrl } from '@dynamite/queues';
import { EngineHarness, sampleStream, waitFor, webServiceConfig } from '../support/engine-harness';
import { SentinelSetup } from './redis-sentinel';
import { spawnScheduler, waitRole } from './support';

describe('redis+sentinel URLs', () => {
  test('sentinels, master name, credentials, database and the sentinel password', () => {
    assert.deepEqual(parseSentinelUrl('redis+sentinel://10.0.0.1:26379,10.0.0.2,[::1]:26380/mymaster'), {
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }, { host: '::1', port: 26380 }], name: 'mymaster', tls: false,
    });
    assert.deepEqual(parseSentinelUrl('rediss+sentinel://app:p%40ss@s1:1,s2:2/queues/3?sentinel_password=x'), {
      sentinels: [{ host: 's1', port: 1 }, { host: 's2', port: 2 }], name: 'queues', tls: true, username: 'app', password: 'p@ss', db: 3, sentinelPassword: 'x',
    });
    assert.equal(parseSentinelUrl('redis://127.0.0.1:6379'), null);
  });

  test('bad ones name the problem and hide the password', () => {
    assert.throws(() => parseSentinelUrl('redis+sentinel://s1:26379'), (e: Error) => e instanceof RedisUrlError && /master's name is missing/.test(e.message));
    assert.throws(() => parseSentinelUrl('redis+sentinel://:secret@/m'), /no sentinel given/);
    assert.throws(() => parseSentinelUrl('redis+sentinel://s1:99999/m'), /port out of range/);
    assert.throws(() => parseSentinelUrl('redis+sentinel://s1/m/x'), /database "x" is not a number/);
    assert.throws(() => parseSentinelUrl('redis+sentinel://:secret@s1/m?foo=1'), (e: Error) => /unknown parameter "foo"/.test(e.message) && !e.message.includes('secret'));
  });
});

// The engine through Redis Sentinel: a real primary, a replica and three sentinels. The primary is SIGKILLed mid-run;
// the sentinels promote the replica and the engine (two schedulers, a worker) keeps scaling.
describe('Redis Sentinel: the primary killed mid-run', () => {
  let sentinel: SentinelSetup;
  let h: EngineHarness;

  before(async () => {
    sentinel = await SentinelSetup.start();
    h = await EngineHarness.start({ suite: 'ha-sentinel', redisUrl: sentinel.url, ...webServiceConfig({ min: 1, max: 4, upPeriod: 1.5, downPeriod: 60, cooldown: 1, reconcile: 1 }) });
  });
  after(async () => {
    await h?.stop();
    await sentinel?.stop();
  });

  const scaleUpTo = async (uuid: string, instance: string, timeoutMs: number) => {
    await h.register('webserver', uuid, 'web@8080.service');
    const stream = sampleStream(h, 'webserver', uuid, 'cpu_user', () => 99, 150);
    try {
      await waitFor(async () => (await h.actions('web')).find((a) => a.instance === instance), timeoutMs, `scale up to ${instance} decided`, h);
    } finally {
      await stream.stop();
    }
    await waitFor(async () => (await h.actions('web')).find((a) => a.instance === instance)?.status === 'done', timeoutMs, `${instance} launched`, h);
  };

  test('the engine keeps scaling after the failover', async (t) => {
    const a = await spawnScheduler(h, 'a', 3);
    await waitRole(h, a, 'leader', 30_000);
    const b = await spawnScheduler(h, 'b', 3);
    await waitRole(h, b, 'standby', 30_000);
    h.spawn('worker', ['--lock_duration', '2000']);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance launched through Sentinel', h);
    await scaleUpTo('u-1', 'web@8081.service', 30_000);

    assert.equal(await sentinel.masterPort(), sentinel.primary.port);
    const killedAt = Date.now();
    await sentinel.kill(sentinel.primary, 'SIGKILL');
    await waitFor(async () => ((await sentinel.masterPort()) === sentinel.replica.port ? true : null), 30_000, 'the sentinels promoted the replica', h);
    const promotedAt = Date.now();
    // Scaling after the failover: decided by a check job and launched by an action job, both through the new master.
    await waitFor(async () => {
      const res = await fetch(`${b.url}/readyz`);
      const body = (await res.json()) as { checks: { redis: { ok: boolean } } };
      return body.checks.redis.ok ? true : null;
    }, 30_000, 'the standby reaches the new master', h);
    await scaleUpTo('u-2', 'web@8082.service', 45_000);
    const scaledAt = Date.now();
    t.diagnostic(`primary SIGKILLed: replica promoted after ${promotedAt - killedAt} ms; the next scale-up launched ${scaledAt - killedAt} ms after the kill`);

    const recorded = Object.keys(await h.instances('web')).sort();
    assert.deepEqual(recorded, ['web@8080.service', 'web@8081.service', 'web@8082.service']);
    assert.deepEqual((await h.launchedUnits()).filter((u) => u.startsWith('web@')), recorded);
    const actions = await h.actions('web');
    assert.ok(actions.every((x) => x.status === 'done'), JSON.stringify(actions));
    assert.equal(actions.filter((x) => x.kind === 'scale_up').length, 3);
  });
});
