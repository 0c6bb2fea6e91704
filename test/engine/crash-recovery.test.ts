import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineHarness, sampleStream, sleep, waitFor, webServiceConfig } from '../support/engine-harness';
import { RedisServer } from '../support/redis';

// Guarantees 4, 5, 6 and 10: crashes of workers, the scheduler, Redis and the whole engine lose nothing and
// duplicate nothing. This suite has a Redis of its own, because it wipes it.
describe('crash recovery', () => {
  let h: EngineHarness;
  let redis: RedisServer;

  before(async () => {
    redis = await RedisServer.start();
    h = await EngineHarness.start({
      suite: 'crash',
      redisUrl: redis.url,
      ...webServiceConfig({ min: 1, max: 6, upPeriod: 4, downPeriod: 60, cooldown: 1, reconcile: 1 }),
    });
  });
  after(async () => { await h.stop(); await redis.stop(); });

  test('4: a worker killed with SIGKILL in the middle of a fleet action; the job is retried and each unit exists once', async () => {
    h.spawn('scheduler');
    const w1 = h.spawn('worker', ['--lock_duration', '2000']);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'min instance', h);
    // Make fleet slow on the next instance, so the action is surely in flight when the worker dies.
    await h.emulatorFaults({ latencyMs: 4_000, path: '8081' });
    await h.register('webserver', 'u-crash', 'web@8080.service');
    const stream = sampleStream(h, 'webserver', 'u-crash', 'cpu_user', () => 99, 150);
    await waitFor(async () => (await h.actions('web')).find((a) => a.instance === 'web@8081.service'), 20_000, 'scale up decided', h);
    await stream.stop(); // one decision only
    await sleep(1_000); // the worker is now waiting on fleet
    await h.kill(w1, 'SIGKILL');
    await h.emulatorFaults(null);
    h.spawn('worker', ['--lock_duration', '2000']);
    await waitFor(async () => {
      const a = (await h.actions('web')).find((x) => x.instance === 'web@8081.service');
      return a?.status === 'done';
    }, 30_000, 'the stalled action completed by another worker', h);
    const names = await h.unitNames();
    assert.deepEqual(names.filter((n) => n.includes('8081')), ['web@8081.service', 'web_disc@8081.service']);
    assert.equal(names.filter((n) => n.startsWith('web@')).length, 2, 'no instance leaked');
    assert.equal((await h.actions('web')).filter((a) => a.kind === 'scale_up').length, 2, 'min instance + the scale up');
  });

  test('6: the scheduler restarted while samples keep arriving: none lost, none evaluated twice', async () => {
    // Every sample flips the state machine (armed, disarmed, armed, ...) and leaves one record; the period is long.
    await h.register('webserver', 'u-flip', 'web@8080.service');
    await h.sample('webserver', 'u-flip', 'cpu_user', 5);
    await waitFor(async () => (await h.etcd.get('/_dynamite/policy/web/web_up/machine/u-flip').string()) !== null, 10_000, 'machine created', h);
    // Both policies see the same metric: count the scale-up machine's records only.
    const flipsOf = async () => (await h.decisions('web')).filter((d) => {
      const r = d as unknown as { machine: string; policy: string };
      return r.machine === 'u-flip' && r.policy === 'web_up' && (d.outcome === 'armed' || d.outcome === 'disarmed');
    });
    const before = (await flipsOf()).length;
    // No cooldown may be running: during one, a breaching sample arms nothing (and leaves no flip record).
    await waitFor(async () => {
      const cooldowns = await h.etcd.getAll().prefix('/_dynamite/policy/web/').json();
      return Object.entries(cooldowns).every(([k, v]) => !k.endsWith('/cooldown') || (v as { until: number }).until < Date.now() - 100);
    }, 20_000, 'no cooldown running', h);
    const scheduler = h.processes.find((p) => p.name.startsWith('scheduler'))!;
    const N = 40;
    let written = 0;
    const writer = (async () => {
      for (let i = 0; i < N; i += 1) {
        await h.sample('webserver', 'u-flip', 'cpu_user', i % 2 === 0 ? 99 : 5);
        written += 1;
        await sleep(60);
      }
    })();
    await sleep(700);
    await h.kill(scheduler, 'SIGKILL');
    await sleep(500);
    h.spawn('scheduler');
    await writer;
    assert.equal(written, N);
    await waitFor(async () => ((await flipsOf()).length - before >= N ? true : null), 30_000, `${N} flip records`, h);
    await sleep(1_500);
    const flips = await flipsOf();
    assert.equal(flips.length - before, N, 'exactly one evaluation per sample');
  });

  test('5 and 10: Redis wiped, then the whole engine killed: armed timers, cooldowns and pending actions come back from etcd', async () => {
    // A pending action: fleet refuses PUTs of the next instance for a while, so the action stays pending.
    await h.emulatorFaults({ errorRate: 1, path: '8082', methods: ['PUT'] });
    await h.register('webserver', 'u-wipe', 'web@8080.service');
    let stream = sampleStream(h, 'webserver', 'u-wipe', 'cpu_user', () => 99, 150);
    await waitFor(async () => (await h.actions('web')).find((a) => a.instance === 'web@8082.service'), 20_000, 'scale up to 8082 decided', h);
    await stream.stop();

    // Redis wiped while that action is pending.
    const client = h.redis();
    await client.flushall();
    client.disconnect();
    await sleep(1_500);
    await h.emulatorFaults(null);
    await waitFor(async () => (await h.actions('web')).find((a) => a.instance === 'web@8082.service')?.status === 'done', 30_000, 'pending action done after the wipe', h);
    assert.equal((await h.unitNames()).filter((n) => n === 'web@8082.service').length, 1);

    // An armed timer, then the whole engine killed and Redis wiped again: the timer still fires at its time.
    await sleep(1_500); // the scale-up cooldown (1 s) is over
    await h.register('webserver', 'u-timer', 'web@8081.service');
    stream = sampleStream(h, 'webserver', 'u-timer', 'cpu_user', () => 99, 150);
    const armed = await waitFor(async () => {
      const m = await h.etcd.get('/_dynamite/policy/web/web_up/machine/u-timer').json() as { state?: { armed?: { expiresAt: number } | null } } | null;
      return m?.state?.armed ?? null;
    }, 10_000, 'timer armed', h);
    for (const p of h.processes) await h.kill(p, 'SIGKILL');
    const wipe = h.redis();
    await wipe.flushall();
    wipe.disconnect();
    h.spawn('scheduler');
    h.spawn('worker', ['--lock_duration', '2000']);
    await waitFor(async () => (await h.actions('web')).find((a) => a.instance === 'web@8083.service'), 20_000, 'the armed timer fired after the restart', h);
    await stream.stop();
    const fire = (await h.decisions('web')).find((d) => d.outcome === 'scaled' && d.action?.instance === 'web@8083.service')!;
    assert.ok(fire, 'a scaled decision for web@8083');
    // It fired for the timer armed before the crash, within a second of that timer's expiry.
    assert.equal((fire.inputs as { expiresAt?: number }).expiresAt, armed.expiresAt);
    const late = (fire as unknown as { at: number }).at - armed.expiresAt;
    assert.ok(late >= 0 && late < 1_000, `fired ${late} ms after expiry`);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8083.service'), 20_000, 'web@8083 launched', h);
    const webs = (await h.unitNames()).filter((n) => n.startsWith('web@'));
    assert.deepEqual(webs, ['web@8080.service', 'web@8081.service', 'web@8082.service', 'web@8083.service']);
  });
});
