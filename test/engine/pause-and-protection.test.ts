import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '@dynamite/domain';
import { EngineHarness, sampleStream, waitFor, webServiceConfig } from '../support/engine-harness';
import { freePort } from '../support/ports';
import { basic, parseMetrics, runCli } from '../operator/support';

// Pause and resume, scale-in protection: set through the authenticated HTTP API of the scheduler and through the
// CLI (straight to etcd), stored in etcd and honoured by a worker in another process at its next decision.
const USER = 'ops';
const PASSWORD = 'pause-test password';
const AUTH = { authorization: basic(USER, PASSWORD) };

type Record = { id: string; at: number; policy: string | null; outcome: string; reason: string | null; action: { instance: string; kind: string } | null; message: string; direction: string | null };

describe('pause, resume and scale-in protection', () => {
  let h: EngineHarness;
  let http: string;

  before(async () => {
    h = await EngineHarness.start({
      suite: 'pause',
      ...webServiceConfig({ min: 1, max: 4, upPeriod: 1, downPeriod: 1, cooldown: 2 }),
      env: { DYNAMITE_HTTP_USER: USER, DYNAMITE_HTTP_PASSWORD: PASSWORD },
    });
    const port = await freePort();
    http = `http://127.0.0.1:${port}`;
    h.spawn('scheduler', ['--http', `127.0.0.1:${port}`]);
    h.spawn('worker', ['--concurrency', '4']);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'web@8080 launched', h);
    await waitFor(async () => (await fetch(`${http}/healthz`)).ok, 20_000, 'the listener', h);
  });
  after(async () => { await h.stop(); });

  const records = async (outcome: string, reason?: string): Promise<Record[]> =>
    ((await h.decisions('web')) as unknown as Record[]).filter((d) => d.outcome === outcome && (reason === undefined || d.reason === reason));
  const cli = (...args: string[]) => runCli([...args, '-e', h.etcdServer.endpoint]);
  const launchedWeb = async () => (await h.launchedUnits()).filter((u) => u.startsWith('web@'));

  test('the API refuses a change without credentials, or without a JSON body', async () => {
    const body = JSON.stringify({ reason: 'x' });
    assert.equal((await fetch(`${http}/api/services/web/pause`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 401);
    assert.equal((await fetch(`${http}/api/services/web/pause`, { method: 'DELETE' })).status, 401);
    const form = await fetch(`${http}/api/services/web/pause`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' }, body: 'reason=x' });
    assert.equal(form.status, 415);
    const bad = await fetch(`${http}/api/services/web/pause`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ direction: 'sideways', reason: 'x' }) });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'direction: must be up, down or both (got "sideways")' });
    const unknown = await fetch(`${http}/api/services/nope/pause`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body });
    assert.equal(unknown.status, 404);
    assert.equal(await h.etcd.get(keys.pause('web')).string(), null);
  });

  test('a pause of scaling up (API): the fire is recorded as paused, with who and why; nothing is created', async () => {
    const res = await fetch(`${http}/api/services/web/pause`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ direction: 'up', reason: 'load test in progress' }),
    });
    assert.equal(res.status, 200);
    const answer = await res.json() as { paused: { directions: string[]; by: string; until: string | null; active: boolean } };
    assert.deepEqual([answer.paused.directions, answer.paused.by, answer.paused.until, answer.paused.active], [['up'], USER, null, true]);
    await h.register('webserver', 'uuid-a', 'web@8080.service');
    const stream = sampleStream(h, 'webserver', 'uuid-a', 'cpu_user', () => 95, 150);
    let paused: Record[];
    try {
      paused = await waitFor(async () => {
        const found = await records('suppressed', 'paused');
        return found.length >= 2 ? found : null;
      }, 20_000, 'two paused fires', h);
    } finally {
      await stream.stop();
    }
    // No cooldown follows a paused fire: the next full window fires (and is paused) again.
    assert.equal(paused[0]!.direction, 'up');
    assert.match(paused[0]!.message, /, but web is paused \(scaling up\) by ops until resumed: "load test in progress": not scaling up$/);
    assert.equal((await records('scaled')).length, 0);
    assert.deepEqual(await launchedWeb(), ['web@8080.service']);
    const overview = await (await fetch(`${http}/api/services/web`, { headers: AUTH })).json() as { service: { paused: { reason: string } | null } };
    assert.equal(overview.service.paused?.reason, 'load test in progress');
    const pause = await (await fetch(`${http}/api/services/web/pause`, { headers: AUTH })).json() as { service: string; paused: { directions: string[]; active: boolean } | null };
    assert.deepEqual([pause.service, pause.paused?.directions, pause.paused?.active], ['web', ['up'], true]);
    const metrics = parseMetrics(await (await fetch(`${http}/metrics`, { headers: AUTH })).text());
    assert.equal(metrics.get('dynamite_paused{service="web",direction="up"}'), 1);
    assert.equal(metrics.get('dynamite_paused{service="web",direction="down"}'), 0);
    const status = await cli('status');
    assert.match(status.stdout, /^web: paused \(scaling up\) until resumed, by ops: "load test in progress"$/m);
  });

  test('resume (CLI): the next fire scales up', async () => {
    const r = await cli('resume', 'web');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'web: resumed\n');
    assert.equal(await h.etcd.get(keys.pause('web')).string(), null);
    const stream = sampleStream(h, 'webserver', 'uuid-a', 'cpu_user', () => 95, 150);
    try {
      await waitFor(async () => (await launchedWeb()).includes('web@8081.service'), 20_000, 'web@8081 launched', h);
    } finally {
      await stream.stop();
    }
    assert.equal((await cli('resume', 'web')).stdout, 'web was not paused\n');
  });

  test('a pause with an end (CLI --for) holds the fires before it ends and none after', async () => {
    await h.waitForCooldownsOver('web');
    const r = await cli('pause', 'web', '--up', '--for', '3s', '--reason', 'short maintenance');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^web: paused \(scaling up\) by \S+ until \S+Z: "short maintenance"\n$/);
    const pause = await h.etcd.get(keys.pause('web')).json() as { until: number };
    const before = (await records('suppressed', 'paused')).length;
    const stream = sampleStream(h, 'webserver', 'uuid-a', 'cpu_user', () => 95, 150);
    try {
      await waitFor(async () => (await launchedWeb()).includes('web@8082.service'), 20_000, 'web@8082 launched after the pause ended', h);
    } finally {
      await stream.stop();
    }
    const held = (await records('suppressed', 'paused')).slice(before);
    assert.ok(held.length >= 1, 'at least one fire was paused');
    assert.ok(held.every((d) => d.at < pause.until), 'only fires before the end are paused');
    const scaled = (await records('scaled')).filter((d) => d.action?.instance === 'web@8082.service');
    assert.equal(scaled.length, 1);
    assert.ok(scaled[0]!.at >= pause.until, 'the fire that scaled came after the end');
  });

  test('bad CLI input: one line naming the flag', async () => {
    const noReason = await cli('pause', 'web');
    assert.equal(noReason.code, 2);
    assert.equal(noReason.stderr, 'dynamite: --reason: is required (why scaling is paused, shown in every record it suppresses)\n');
    const badFor = await cli('pause', 'web', '--for', 'soon', '--reason', 'x');
    assert.equal(badFor.stderr, 'dynamite: --for: must be a duration such as 30m, 2h, 1h30m or 1d (got "soon")\n');
    const unknown = await cli('protect', 'web@9999.service');
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'dynamite: "web@9999.service" is not an instance of any configured service (e.g. web@8080.service)\n');
    const attached = await cli('pause', 'web_disc', '--reason', 'x');
    assert.equal(attached.stderr, 'dynamite: web_disc is an attached service: it follows the instances of its parent; pause or protect the parent\n');
  });

  test('a protected instance (API) is never removed: its own low metric records protected', async () => {
    await h.waitForCooldownsOver('web');
    const res = await fetch(`${http}/api/services/web/instances/web@8082.service/protection`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'holds a debug session' }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json() as { by: string }).by, USER);
    await h.register('webserver', 'uuid-c', 'web@8082.service');
    const stream = sampleStream(h, 'webserver', 'uuid-c', 'cpu_user', () => 2, 150);
    try {
      await waitFor(async () => (await records('suppressed', 'protected')).length >= 1, 20_000, 'a protected suppression', h);
    } finally {
      await stream.stop();
    }
    const [held] = await records('suppressed', 'protected');
    assert.match(held!.message, /, but web@8082\.service of web is protected from scale-in: not scaling down$/);
    assert.ok((await launchedWeb()).includes('web@8082.service'));
    const overview = await (await fetch(`${http}/api/services/web`, { headers: AUTH })).json() as { service: { instances: { name: string; protected: boolean }[] } };
    assert.deepEqual(overview.service.instances.map((i) => [i.name, i.protected]), [['web@8080.service', false], ['web@8081.service', false], ['web@8082.service', true]]);
    assert.match((await cli('status')).stdout, /^web: web@8082\.service protected from scale-in by ops: "holds a debug session"$/m);
  });

  test('when every candidate is protected the decision records protected; the newest unprotected one goes once one is', async () => {
    await h.waitForCooldownsOver('web');
    for (const i of ['web@8080.service', 'web@8081.service']) {
      const r = await cli('protect', i, '--reason', 'keep');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${i} (web): protected from scale-in: "keep"\n`);
    }
    // A uuid without registration: scale down removes the newest launched instance that is not protected.
    const before = (await records('suppressed', 'protected')).length;
    let stream = sampleStream(h, 'webserver', 'uuid-x', 'cpu_user', () => 2, 150);
    try {
      await waitFor(async () => (await records('suppressed', 'protected')).length > before, 20_000, 'a protected suppression of the newest', h);
    } finally {
      await stream.stop();
    }
    const held = (await records('suppressed', 'protected')).slice(before);
    assert.match(held[0]!.message, /every launched instance of web is protected from scale-in \(web@8080\.service, web@8081\.service, web@8082\.service\)/);
    assert.equal((await launchedWeb()).length, 3);

    const r = await cli('unprotect', 'web@8081.service');
    assert.equal(r.stdout, 'web@8081.service (web): no longer protected\n');
    stream = sampleStream(h, 'webserver', 'uuid-x', 'cpu_user', () => 2, 150);
    try {
      await waitFor(async () => !(await h.unitNames()).includes('web@8081.service'), 20_000, 'web@8081 removed', h);
    } finally {
      await stream.stop();
    }
    assert.deepEqual(await launchedWeb(), ['web@8080.service', 'web@8082.service']);
    const down = await records('scaled');
    assert.deepEqual(down.filter((d) => d.action?.kind === 'scale_down').map((d) => d.action?.instance), ['web@8081.service']);
    // The protections left are the two still set.
    const left = Object.keys(await h.etcd.getAll().prefix(keys.protectionPrefix('web')).strings()).map((k) => k.slice(keys.protectionPrefix('web').length)).sort();
    assert.deepEqual(left, ['web@8080.service', 'web@8082.service']);
    const lifted = await fetch(`${http}/api/services/web/instances/web@8082.service/protection`, { method: 'DELETE', headers: AUTH });
    assert.deepEqual(await lifted.json(), { service: 'web', instance: 'web@8082.service', unprotected: true });
  });
});
