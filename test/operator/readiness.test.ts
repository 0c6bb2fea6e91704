import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHttpServer, type RunningHttp } from '@dynamite/operator';
import { REDIS_URL } from '../support/redis';
import { OperatorEnv, sleep, waitFor } from './support';

// The rule: /readyz tells the truth about the sample watch. A watch whose revision is ahead of etcd's sees nothing;
// one that handled no event for more than a few seconds while samples were written under its prefix is stuck:
// neither is ready. And /readyz answers from probe results at most a second old, one probe at a time, so a crowd of
// requests cannot make it fail.
describe('/readyz and the sample watch', () => {
  let env: OperatorEnv;
  const listeners: RunningHttp[] = [];

  before(async () => {
    env = await OperatorEnv.start('ready');
    await env.waitForMinInstances();
  });
  after(async () => {
    for (const l of listeners) await l.close();
    await env?.stop();
  });

  /** A second listener on the same engine whose watch is `watch` (a stand-in that never moves). */
  async function listenerWith(watch: { revision: string | null; prefix: string }): Promise<string> {
    const l = await startHttpServer({ ctx: env.scheduler!.ctx, etcd: { endpoint: env.etcdEndpoint }, redisUrl: REDIS_URL, watch }, {
      host: '127.0.0.1', port: 0, credentials: null, probeTimeoutMs: 1_500,
    });
    listeners.push(l);
    return l.url;
  }

  const readyz = async (url: string) => {
    const res = await fetch(`${url}/readyz`);
    return { status: res.status, body: await res.json() as { ready: boolean; failing?: string[]; error?: string; checks: Record<string, { ok: boolean; error: string | null }> } };
  };

  test('a watch that handles nothing while samples arrive is not ready after a few seconds; the real one stays ready', async () => {
    const revision = String((await env.etcd.get('/_dynamite/state/application_status').exec()).header.revision);
    const stuck = await listenerWith({ revision, prefix: '/metrics/' });
    assert.equal((await readyz(stuck)).status, 200, 'nothing newer to handle yet');
    await env.sample('webserver', 'uuid-r', 'cpu_user', 50);
    const t0 = Date.now();
    // Behind, but only for a moment: still ready.
    await sleep(1_500);
    assert.equal((await readyz(stuck)).status, 200, 'a watch behind for a moment is ready');
    const stalled = await waitFor(async () => {
      const r = await readyz(stuck);
      return r.status === 503 ? r : null;
    }, 15_000, 'the stuck watch reported not ready');
    assert.ok(Date.now() - t0 >= 5_000, 'not before the stall limit');
    assert.deepEqual(stalled.body.failing, ['watch']);
    assert.match(stalled.body.error!, new RegExp(`^not ready: the sample watch has handled nothing after revision ${revision} for \\d+ s while samples up to revision \\d+ were written$`));
    assert.equal(stalled.body.checks.etcd!.ok, true);
    // The scheduler's own watch handled the sample: ready.
    const real = await readyz(env.url);
    assert.equal(real.status, 200, JSON.stringify(real.body));
    assert.equal(real.body.checks.watch!.ok, true);
  });

  test('a watch at a revision ahead of etcd (blind) is not ready at once', async () => {
    const blind = await listenerWith({ revision: '99999999', prefix: '/metrics/' });
    const r = await readyz(blind);
    assert.equal(r.status, 503);
    assert.deepEqual(r.body.failing, ['watch']);
    assert.match(r.body.error!, /^not ready: the sample watch is at revision 99999999, ahead of etcd's \d+: it sees nothing$/);
  });

  test('500 concurrent /readyz: every one 200, from one round of probes per second they took (plus one)', async () => {
    // fleet counts the probe's requests: one `GET /machines` per round of probes (none when the last round, made by
    // an earlier request, is still fresh: answers are at most 1 s old). On a loaded machine the 500 requests may take
    // more than a second; each second may start one more round, never one per request.
    await fetch(`${env.emulator.url}/emulator/stats`, { method: 'DELETE' });
    const started = Date.now();
    const statuses = await Promise.all(Array.from({ length: 500 }, () => fetch(`${env.url}/readyz`).then((r) => r.status, () => 0)));
    const counts = statuses.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});
    assert.deepEqual(counts, { 200: 500 });
    const stats = await (await fetch(`${env.emulator.url}/emulator/stats`)).json() as { requests: Record<string, number> };
    const probes = Object.entries(stats.requests).filter(([route]) => /^GET .*machines/.test(route)).reduce((n, [, c]) => n + c, 0);
    const rounds = 2 + Math.floor((Date.now() - started) / 1_000);
    assert.ok(probes <= rounds, `fleet probed ${probes} times (at most ${rounds}): ${JSON.stringify(stats.requests)}`);
  });
});
