import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIONS_QUEUE, jobIds } from '@dynamite/domain';
import { epochKey } from '@dynamite/queues';
import { EngineHarness, sampleKey, sampleStream, sleep, waitFor, webServiceConfig } from '../support/engine-harness';
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
    const decided = await waitFor(async () => (await h.actions('web')).find((a) => a.instance === 'web@8081.service'), 20_000, 'scale up decided', h);
    await stream.stop(); // one decision only
    // The worker is now waiting on fleet: its job is active, and the emulator holds a request for a unit of 8081.
    const job = jobIds.action(decided.decisionId);
    await waitFor(async () => {
      const state = await (await h.queue(ACTIONS_QUEUE).getJob(job))?.getState();
      const units = (await h.emulatorStats()).units;
      return state === 'active' && Object.keys(units).some((u) => u.includes('@8081.'));
    }, 20_000, 'the action job active and its first fleet request held by the emulator', h);
    await h.kill(w1, 'SIGKILL');
    assert.equal((await h.actions('web')).find((a) => a.instance === 'web@8081.service')?.status, 'pending', 'the worker died in the middle of the action');
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
    // Every sample flips the scale-down state machine (armed, disarmed, armed, ...) and leaves one record. Its period
    // (60 s) outlasts the test: however slow the restart, no window closes between two samples (a window of the
    // 4 s scale-up policy could, and then the next sample would leave no record of its own).
    await h.register('webserver', 'u-flip', 'web@8080.service');
    await h.sample('webserver', 'u-flip', 'cpu_user', 5);
    await waitFor(async () => (await h.etcd.get('/_dynamite/policy/web/web_down/machine/u-flip').string()) !== null, 10_000, 'machine created', h);
    // Both policies see the same metric: count the scale-down machine's records only.
    const flipsOf = async () => (await h.decisions('web')).filter((d) => d.machine === 'u-flip' && d.policy === 'web_down' && (d.outcome === 'armed' || d.outcome === 'disarmed'));
    const before = (await flipsOf()).length;
    // No cooldown may be running, and none may start during the stream: during one, a breaching sample arms nothing
    // (and leaves no flip record). So no other machine of web_down may hold an armed window that could fire.
    await waitFor(async () => {
      const state = await h.etcd.getAll().prefix('/_dynamite/policy/web/').json();
      return Object.entries(state).every(([k, v]) =>
        k.endsWith('/cooldown') ? (v as { until: number }).until < Date.now() - 100
          : !k.includes('/web_down/machine/') || k.endsWith('/u-flip') || !(v as { state: { armed: unknown } }).state.armed);
    }, 30_000, 'no cooldown running and no other web_down window armed', h);
    const scheduler = h.processes.find((p) => p.name.startsWith('scheduler'))!;
    const N = 40;
    let written = 0;
    let lastRevision = '0';
    const writer = (async () => {
      for (let i = 0; i < N; i += 1) {
        lastRevision = await h.put(sampleKey('webserver', 'u-flip', 'cpu_user', Date.now()), i % 2 === 0 ? '99' : '5');
        written += 1;
        await sleep(60); // the producer's pace
      }
    })();
    // Killed while it is turning the stream into checks (some samples evaluated already), restarted after more
    // samples arrived while it was down.
    await waitFor(async () => (await flipsOf()).length - before >= 3, 20_000, 'the first samples of the stream evaluated', h);
    await h.kill(scheduler, 'SIGKILL');
    const writtenAtKill = written;
    await waitFor(async () => written >= Math.min(N, writtenAtKill + 5), 20_000, 'samples written while the scheduler is down', h);
    h.spawn('scheduler');
    await writer;
    assert.equal(written, N);
    assert.ok(writtenAtKill < N, `the scheduler was killed while samples kept arriving (${writtenAtKill} of ${N} written)`);
    // Every sample turned into checks by the new scheduler and every check run: any evaluation twice would show.
    await h.waitForChecksDone(lastRevision, 30_000);
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

    // Redis wiped while that action is pending: the scheduler notices (its marker key is gone) and rebuilds the
    // action's job from etcd, while fleet still refuses it.
    const client = h.redis();
    try {
      await client.flushall();
      const decided = (await h.actions('web')).find((a) => a.instance === 'web@8082.service')!;
      await waitFor(async () => (await client.exists(epochKey(h.prefix))) === 1 && (await h.queue(ACTIONS_QUEUE).getJob(jobIds.action(decided.decisionId))) !== undefined, 20_000, 'the action job rebuilt from etcd after the wipe', h);
    } finally {
      client.disconnect();
    }
    await h.emulatorFaults(null);
    await waitFor(async () => (await h.actions('web')).find((a) => a.instance === 'web@8082.service')?.status === 'done', 30_000, 'pending action done after the wipe', h);
    assert.equal((await h.unitNames()).filter((n) => n === 'web@8082.service').length, 1);

    // An armed timer, then the whole engine killed and Redis wiped again: the timer still fires at its time.
    await h.waitForCooldownsOver('web'); // during the scale-up cooldown a breaching sample arms nothing
    await h.register('webserver', 'u-timer', 'web@8081.service');
    stream = sampleStream(h, 'webserver', 'u-timer', 'cpu_user', () => 99, 150);
    // Armed, and already holding the two samples a window needs to fire: samples the engine sees only after its
    // restart count from then (wall time of receipt), which may be after the expiry.
    const armed = await waitFor(async () => {
      const m = await h.etcd.get('/_dynamite/policy/web/web_up/machine/u-timer').json() as { state?: { armed?: { expiresAt: number; samples: number } | null } } | null;
      const window = m?.state?.armed;
      return window && window.samples >= 2 ? window : null;
    }, 10_000, 'timer armed with two samples', h);
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
    // It fired for the timer armed before the crash, decided as of that timer's expiry.
    const timerRecords = (await h.decisions('web')).filter((d) => d.machine === 'u-timer').map((d) => `${d.outcome} ${d.reason ?? ''} at ${d.at} ${JSON.stringify(d.inputs)}`);
    assert.equal((fire.inputs as { expiresAt?: number }).expiresAt, armed.expiresAt, `the records of u-timer:\n${timerRecords.join('\n')}`);
    assert.equal(fire.at, armed.expiresAt, 'the decision is dated at the expiry');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8083.service'), 20_000, 'web@8083 launched', h);
    const webs = (await h.unitNames()).filter((n) => n.startsWith('web@'));
    assert.deepEqual(webs, ['web@8080.service', 'web@8081.service', 'web@8082.service', 'web@8083.service']);
  });
});
