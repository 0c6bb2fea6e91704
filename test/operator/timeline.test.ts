import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deterministicId, keys, type DecisionRecord } from '@dynamite/domain';
import type { ServiceTimeline } from '@dynamite/operator';
import { StateStore } from '@dynamite/store';
import { OperatorEnv, waitFor } from './support';

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json() };
}

/** Every decision record of `service` in etcd, oldest first. */
async function decisionsInEtcd(env: OperatorEnv, service: string): Promise<DecisionRecord[]> {
  const all = await env.etcd.getAll().prefix(keys.serviceDecisionsPrefix(service)).json() as Record<string, DecisionRecord>;
  return Object.values(all).sort((a, b) => a.id.localeCompare(b.id));
}

/** The samples of one machine in etcd: `[key time, value]`, oldest first. */
async function samplesInEtcd(env: OperatorEnv, prefix: string, from: number): Promise<[number, number][]> {
  const all = await env.etcd.getAll().prefix(prefix).strings();
  return Object.entries(all)
    .map(([key, value]): [number, number] => [Date.parse(key.slice(prefix.length)), Number(value)])
    .filter(([t]) => t >= from)
    .sort((a, b) => a[0] - b[0]);
}

/**
 * `GET /api/services/:name/timeline` against a real engine, etcd and fleet emulator: a scale-up of web decided by
 * the engine from real samples, then every part of the timeline compared with what etcd holds.
 */
describe('operator API: a service timeline', () => {
  let env: OperatorEnv;
  let fired: DecisionRecord;

  before(async () => {
    env = await OperatorEnv.start('timeline');
    await env.waitForMinInstances();
  });
  after(async () => { await env?.stop(); });

  test('before any sample: the bound repair that started web, no series, no windows', async () => {
    const { status, body } = await getJson(`${env.url}/api/services/web/timeline`);
    assert.equal(status, 200, JSON.stringify(body));
    const t = body as ServiceTimeline;
    assert.equal(t.service, 'web');
    assert.equal(t.minutes, 10);
    assert.equal(t.to - t.from, 600_000);
    assert.deepEqual([t.min, t.max, t.desired, t.actual, t.paused], [1, 3, 1, 1, null]);
    assert.deepEqual(t.policies.map((p) => [p.name, p.metric, p.operator, p.threshold, p.series.length, p.windows.length, p.marks.length]), [
      ['web_up', 'cpu_user', 'gt', 80, 0, 0, 0],
      ['web_down', 'cpu_user', 'lt', 10, 0, 0, 0],
    ]);
    const repair = (await decisionsInEtcd(env, 'web')).find((d) => d.outcome === 'bound_repair')!;
    assert.deepEqual(t.instances.changes, [{ at: repair.at, from: 0, to: 1, outcome: 'bound_repair', decisionId: repair.id }]);
    assert.deepEqual(t.instances.points[t.instances.points.length - 1], [t.to, 1]);
    assert.deepEqual(t.instances.marks.map((m) => m.outcome), ['action_done']);
    // Newest first, each fleet action linked to its board job.
    assert.deepEqual(t.decisions.map((d) => d.outcome), ['action_done', 'bound_repair']);
    for (const d of t.decisions) assert.equal(d.job?.path, `/admin/queues/queue/actions/${encodeURIComponent(`action|${repair.id}`)}`);
  });

  test('a scale-up decided by the engine: samples, the fired window, its cooldown and the count, as etcd holds them', async () => {
    await env.register('webserver', 'uuid-a', 'web@18080.service');
    const stream = env.stream('webserver', 'uuid-a', 'cpu_user', 95);
    try {
      fired = await waitFor(async () => (await decisionsInEtcd(env, 'web')).find((d) => d.outcome === 'scaled'), 30_000, 'a scaled record of web_up');
      await waitFor(async () => (await env.instances('web'))['web@18081.service']?.state === 'launched', 30_000, 'web@18081 launched');
    } finally {
      await stream.stop();
    }
    // Answers are up to a second old: wait for one that has the launch.
    const t = await waitFor(async () => {
      const { body } = await getJson(`${env.url}/api/services/web/timeline?minutes=10`);
      return (body as ServiceTimeline).desired === 2 && (body as ServiceTimeline).actual === 2 ? body as ServiceTimeline : null;
    }, 10_000, 'a timeline with two instances');
    const records = (await decisionsInEtcd(env, 'web')).filter((d) => d.at >= t.from);

    const up = t.policies.find((p) => p.name === 'web_up')!;
    assert.equal(up.machines, 1);
    assert.deepEqual(up.series.map((s) => s.machine), ['uuid-a']);
    // Every sample etcd holds for uuid-a in the window (the stream has stopped: nothing is written any more).
    assert.deepEqual(up.series[0]!.points, await samplesInEtcd(env, '/metrics/webserver/uuid-a/cpu_user/', t.from));
    assert.ok(up.series[0]!.points.length >= 2);
    assert.equal(up.series[0]!.truncated, false);
    // web_down reads the same samples (same metric and machine).
    assert.deepEqual(t.policies.find((p) => p.name === 'web_down')!.series[0]!.points, up.series[0]!.points);

    // The window that fired: armed at the armed record's time, closed by the scaled record.
    const armed = records.find((d) => d.outcome === 'armed' && d.policy === 'web_up' && d.inputs['timerId'] === fired.inputs['timerId'])!;
    const firedWindow = up.windows.find((w) => w.end === 'fired')!;
    assert.deepEqual(firedWindow, {
      machine: 'uuid-a', timerId: fired.inputs['timerId'], from: armed.at, to: fired.at, expiresAt: fired.inputs['expiresAt'],
      open: false, end: 'fired', reason: null, decisionId: fired.id,
    });
    assert.equal(up.windows.filter((w) => w.end === 'fired').length, 1);
    assert.deepEqual(up.cooldowns, [{ from: fired.at, to: fired.at + 60_000, decisionId: fired.id }]);
    assert.equal(up.state, 'cooldown');
    // Marks: every web_up record but the windows' starts and ends.
    assert.deepEqual(up.marks.map((m) => m.decisionId).sort(),
      records.filter((d) => d.policy === 'web_up' && d.outcome !== 'armed' && d.outcome !== 'disarmed').map((d) => d.id).sort());
    assert.ok(up.marks.some((m) => m.outcome === 'scaled' && m.decisionId === fired.id));

    // The count: 0 -> 1 (bound repair) -> 2 (the fire), as the records say; 2 now.
    assert.deepEqual(t.instances.changes.map((c) => [c.outcome, c.from, c.to]), [['bound_repair', 0, 1], ['scaled', 1, 2]]);
    assert.equal(t.instances.changes[1]!.decisionId, fired.id);
    assert.deepEqual(t.instances.points[t.instances.points.length - 1], [t.to, 2]);

    // The newest decisions, as etcd holds them (at most 25), each action linked to its board job.
    const newest = (await decisionsInEtcd(env, 'web')).reverse().slice(0, 25);
    assert.deepEqual(t.decisions.map((d) => d.id), newest.map((d) => d.id));
    const decided = t.decisions.find((d) => d.id === fired.id)!;
    assert.equal(decided.job?.id, `action|${fired.id}`);
    const result = t.decisions.find((d) => d.outcome === 'action_done' && d.inputs['decisionId'] === fired.id)!;
    assert.deepEqual(result.job, decided.job);
    // The job exists in the board's queue under that id.
    const board = await getJson(`${env.url}/admin/queues/api/queues/actions/${encodeURIComponent(decided.job!.id)}`);
    assert.equal(board.status, 200, JSON.stringify(board.body));
  });

  test('minutes bounds the read: a sample older than the window is left out', async () => {
    const old = Date.now() - 5 * 60_000;
    await env.sample('webserver', 'uuid-a', 'cpu_user', 42, old);
    const at = (minutes: number) => waitFor(async () => {
      const { body } = await getJson(`${env.url}/api/services/web/timeline?minutes=${minutes}`);
      return body as ServiceTimeline;
    }, 5_000, `timeline ?minutes=${minutes}`);
    const ten = await waitFor(async () => {
      const t = await at(10);
      return t.policies[0]!.series[0]!.points.some(([time]) => time === old) ? t : null;
    }, 5_000, 'the old sample in the 10-minute timeline');
    assert.ok(ten.policies[0]!.series[0]!.points.some(([time, value]) => time === old && value === 42));
    const one = await at(1);
    assert.equal(one.to - one.from, 60_000);
    assert.ok(one.policies[0]!.series[0]!.points.every(([time]) => time >= one.from));
    assert.ok(!one.policies[0]!.series[0]!.points.some(([time]) => time === old));
  });

  test('bad requests: minutes out of range, an unknown or attached service, another method', async () => {
    for (const minutes of ['0', '61', 'ten']) {
      const { status, body } = await getJson(`${env.url}/api/services/web/timeline?minutes=${minutes}`);
      assert.equal(status, 400);
      assert.equal(body.error, `query parameter "minutes" must be an integer from 1 to 60 (got "${minutes}")`);
    }
    assert.deepEqual(await getJson(`${env.url}/api/services/nope/timeline`), { status: 404, body: { error: 'unknown service "nope"; services: web, slow' } });
    assert.deepEqual(await getJson(`${env.url}/api/services/web_disc/timeline`), { status: 404, body: { error: 'service "web_disc" is an attached service; see its parent in /api/services' } });
    const post = await getJson(`${env.url}/api/services/web/timeline`, { method: 'POST' });
    assert.equal(post.status, 405);
  });

  test('the store reads the records dated from a time in one range read: older ones left out, the newest `limit` kept', async () => {
    const store = new StateStore(env.etcd);
    const t0 = 1_795_704_000_000;
    const records = [-1_000, -1, 0, 1, 60_000, 3_600_000].map((offset, i): DecisionRecord => {
      const at = t0 + offset;
      return { id: deterministicId(at, 'test', String(i)), at, service: 'since', policy: null, machine: null, direction: null, outcome: 'resync', reason: null, rule: null, inputs: {}, action: null, message: `record ${i}` };
    });
    for (const r of records) await env.etcd.put(keys.decision('since', r.id)).value(JSON.stringify(r));
    assert.deepEqual((await store.listDecisionsSince('since', t0, 100)).map((r) => r.message), ['record 5', 'record 4', 'record 3', 'record 2']);
    assert.deepEqual((await store.listDecisionsSince('since', t0, 2)).map((r) => r.message), ['record 5', 'record 4']);
    assert.deepEqual(await store.listDecisionsSince('since', t0 + 3_600_001, 100), []);
    assert.deepEqual(await store.listDecisionsSince('nothing', 0, 100), []);
  });

  test('every service of /api/services says whether it is paused (null: no pause recorded)', async () => {
    const { body } = await getJson(`${env.url}/api/services`);
    assert.deepEqual(body.services.map((s: { name: string; paused: unknown }) => [s.name, s.paused]), [['web', null], ['slow', null]]);
  });
});
