import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineHarness, sampleKey, waitFor, webServiceConfig } from '../support/engine-harness';

// The contract: when the stored watch revision has been compacted away, the scheduler resynchronises from a range
// read of the current samples, records the gap in a decision record and a metric, and never stalls.
describe('watch revision compacted while the scheduler was down', () => {
  let h: EngineHarness;

  before(async () => {
    h = await EngineHarness.start({ suite: 'compact', ...webServiceConfig({ min: 1, max: 3, upPeriod: 30, downPeriod: 30, cooldown: 1 }) });
    h.spawn('scheduler');
    h.spawn('worker');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'min instance', h);
  });
  after(async () => { await h.stop(); });

  const flips = async (outcome: string) => (await h.decisions('web')).filter((d) => d.machine === 'u-c' && d.policy === 'web_up' && d.outcome === outcome).length;

  test('the scheduler resynchronises, records the gap, evaluates the samples it missed, and goes on', async () => {
    await h.register('webserver', 'u-c', 'web@8080.service');
    const first = await h.put(sampleKey('webserver', 'u-c', 'cpu_user', Date.now()), '50');
    await waitFor(async () => (await h.etcd.get('/_dynamite/policy/web/web_up/machine/u-c').string()) !== null, 10_000, 'machine created', h);
    await waitFor(() => h.schedulerSaw(first), 10_000, 'the watch revision of that sample stored', h);
    const scheduler = h.processes.find((p) => p.name.startsWith('scheduler'))!;
    await h.kill(scheduler, 'SIGKILL');

    // While it is down: a breaching sample, other writes, then a compaction past everything.
    await h.sample('webserver', 'u-c', 'cpu_user', 99);
    for (let i = 0; i < 20; i += 1) await h.etcd.put(`/unrelated/${i}`).value('x');
    const revision = (await h.etcd.get('/unrelated/0').exec()).header.revision;
    await h.etcd.kv.compact({ revision, physical: true });

    h.spawn('scheduler');
    await waitFor(async () => (await h.decisions('web')).find((d) => d.outcome === 'resync'), 20_000, 'a resync decision record', h);
    await waitFor(async () => (await flips('armed')) >= 1, 20_000, 'the sample written during the gap was evaluated', h);
    // ... and the watch goes on: a new non-breaching sample disarms.
    await h.sample('webserver', 'u-c', 'cpu_user', 50);
    await waitFor(async () => (await flips('disarmed')) >= 1, 20_000, 'a sample after the resync is evaluated', h);
    const resync = (await h.decisions('web')).find((d) => d.outcome === 'resync')!;
    assert.equal(resync.reason, 'compacted');
  });
});
