import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DYNAMITE_BIN, EngineHarness, REPO_ROOT, sampleStream, waitFor, webServiceConfig } from '../support/engine-harness';
import { EtcdCluster } from './etcd-cluster';
import { spawnScheduler, waitRole } from './support';

// The engine against a real 3-member etcd cluster (`-e a,b,c`): the raft leader member is SIGKILLed while the engine
// scales, a scale-up is decided and launched while it is down, it is started again, the engine scales once more;
// in the end every recorded instance is exactly fleet's units, and every action is done once.
describe('a 3-member etcd cluster: a member killed and restarted while the engine scales', () => {
  let cluster: EtcdCluster;
  let h: EngineHarness;

  before(async () => {
    cluster = await EtcdCluster.start(3);
    h = await EngineHarness.start({
      suite: 'ha-etcd',
      etcd: async () => ({ endpoint: cluster.endpoint, hosts: cluster.hosts, stop: () => cluster.stop() }),
      ...webServiceConfig({ min: 1, max: 4, upPeriod: 1.5, downPeriod: 60, cooldown: 1, reconcile: 1 }),
    });
  });
  after(async () => {
    if (h) await h.stop();
    else await cluster?.stop();
  });

  const scaleUpTo = async (uuid: string, instance: string) => {
    await h.register('webserver', uuid, 'web@8080.service');
    const stream = sampleStream(h, 'webserver', uuid, 'cpu_user', () => 99, 150);
    try {
      await waitFor(async () => (await h.actions('web')).find((a) => a.instance === instance), 30_000, `scale up to ${instance} decided`, h);
    } finally {
      await stream.stop(); // one decision only
    }
    await waitFor(async () => (await h.actions('web')).find((a) => a.instance === instance)?.status === 'done', 30_000, `${instance} launched`, h);
  };

  test('nothing lost: recorded instances equal fleet\'s units after the member is back', async (t) => {
    assert.equal(cluster.endpoint.split(',').length, 3);
    const a = await spawnScheduler(h, 'a', 5);
    await waitRole(h, a, 'leader', 30_000);
    const b = await spawnScheduler(h, 'b', 5);
    await waitRole(h, b, 'standby', 30_000);
    h.spawn('worker', ['--lock_duration', '2000']);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance launched', h);

    const down = await cluster.leader();
    await cluster.kill(down, 'SIGKILL');
    t.diagnostic(`SIGKILLed etcd member m${down}, the raft leader`);
    await scaleUpTo('u-1', 'web@8081.service');

    const restartedAt = Date.now();
    await cluster.restart(down);
    t.diagnostic(`member m${down} healthy again ${Date.now() - restartedAt} ms after its restart`);
    await scaleUpTo('u-2', 'web@8082.service');

    const recorded = Object.entries(await h.instances('web'));
    const webUnits = (await h.launchedUnits()).filter((u) => u.startsWith('web@'));
    assert.deepEqual(recorded.map(([name]) => name).sort(), webUnits, 'recorded instances are exactly the web units fleet runs');
    assert.deepEqual(recorded.map(([, r]) => r.state), ['launched', 'launched', 'launched']);
    assert.deepEqual((await h.launchedUnits()).filter((u) => u.startsWith('web_disc@')), ['web_disc@8080.service', 'web_disc@8081.service', 'web_disc@8082.service']);
    const actions = await h.actions('web');
    assert.deepEqual(actions.map((x) => `${x.kind} ${x.instance} ${x.status}`).sort(), [
      'scale_up web@8080.service done', 'scale_up web@8081.service done', 'scale_up web@8082.service done',
    ]);
    assert.equal(new Set(actions.map((x) => x.decisionId)).size, actions.length, 'one action per decision');

    const flips = h.processes.map((p) => h.log(p).split('\n').filter((l) => l.includes('lost scheduler leadership')).length).reduce((x, y) => x + y, 0);
    t.diagnostic(`scheduler leadership lost during the member's absence: ${flips} time(s)`);

    // The CLI takes the three endpoints too, and says who leads.
    const status = spawnSync(process.execPath, [DYNAMITE_BIN, 'status', '-e', cluster.endpoint], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /^scheduler: [ab] leads since \d{4}-.*; standby: [ab]$/m);
  });
});
