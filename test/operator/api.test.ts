import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Overview, ServiceView } from '@dynamite/operator';
import { OperatorEnv, waitFor } from './support';

async function getJson(url: string): Promise<{ status: number; body: any; type: string | null }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url}: ${res.status} answered non-JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body, type: res.headers.get('content-type') };
}

describe('operator JSON API', () => {
  let env: OperatorEnv;

  before(async () => {
    env = await OperatorEnv.start('api');
    await env.waitForMinInstances();
  });
  after(async () => { await env?.stop(); });

  test('GET /healthz: the process is up', async () => {
    const { status, body } = await getJson(`${env.url}/healthz`);
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.equal(body.pid, process.pid);
  });

  test('GET /readyz: Redis, etcd and fleet answer, and the sample watch keeps up', async () => {
    const { status, body } = await getJson(`${env.url}/readyz`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.ready, true);
    assert.deepEqual(Object.keys(body.checks).sort(), ['etcd', 'fleet', 'redis', 'watch']);
    for (const check of Object.values(body.checks) as { ok: boolean; error: string | null }[]) {
      assert.equal(check.ok, true);
      assert.equal(check.error, null);
    }
  });

  test('GET /api/services: desired and actual instances, states, bounds, policies and last decisions', async () => {
    const { status, body, type } = await getJson(`${env.url}/api/services`);
    assert.equal(status, 200);
    assert.match(type ?? '', /application\/json/);
    const overview = body as Overview;
    assert.equal(overview.applicationStatus, 'Running');
    assert.deepEqual(overview.fleet, { asked: true, reachable: true, error: null });
    // Attached services are shown with their parent, not on their own.
    assert.deepEqual(overview.services.map((s) => s.name), ['web', 'slow']);
    const web = overview.services.find((s) => s.name === 'web')!;
    assert.equal(web.min, 1);
    assert.equal(web.max, 3);
    assert.equal(web.desired, 1);
    assert.equal(web.actual, 1);
    assert.equal(web.template, true);
    assert.deepEqual(web.attachedServices, ['web_disc']);
    assert.equal(web.instances.length, 1);
    const [instance] = web.instances;
    assert.equal(instance!.name, 'web@18080.service');
    assert.equal(instance!.state, 'launched');
    assert.equal(instance!.fleetState, 'launched');
    assert.equal(instance!.port, 18080);
    assert.deepEqual(instance!.attached, [{ name: 'web_disc@18080.service', state: 'launched', fleetState: 'launched' }]);
    assert.deepEqual(web.policies.map((p) => [p.name, p.direction, p.state, p.rule]), [
      ['web_up', 'up', 'idle', 'cpu_user gt 80 percent for 1s (cooldown 1m)'],
      ['web_down', 'down', 'idle', 'cpu_user lt 10 percent for 1s (cooldown 1m)'],
    ]);
    assert.deepEqual(web.actions, []);
    // The bound repair that started web@18080 and its action_done record, newest first.
    assert.ok(web.decisions.length >= 2 && web.decisions.length <= 5);
    assert.deepEqual(web.decisions.slice(0, 2).map((d) => d.outcome), ['action_done', 'bound_repair']);
    assert.ok(web.decisions.every((d) => typeof d.time === 'string' && new Date(d.time).getTime() === d.at));
  });

  test('GET /api/services shows an armed policy until its expiry, per machine', async () => {
    await env.register('slowtype', 'uuid-s', 'slow@19090.service');
    const t0 = Date.now();
    // A machine seen for the first time starts from its newest sample: the second one arms.
    await env.sample('slowtype', 'uuid-s', 'load', 90, t0);
    await env.sample('slowtype', 'uuid-s', 'load', 95, t0 + 1);
    await env.sample('slowtype', 'uuid-s', 'load', 97, t0 + 2);
    const slow = await waitFor(async () => {
      const { body } = await getJson(`${env.url}/api/services/slow`);
      const svc = body.service as ServiceView;
      return svc.policies[0]?.state === 'armed' ? svc : null;
    }, 15_000, 'slow_up armed');
    const policy = slow.policies[0]!;
    assert.equal(policy.name, 'slow_up');
    assert.equal(policy.cooldown, null);
    assert.equal(policy.armed.length, 1);
    const armed = policy.armed[0]!;
    assert.equal(armed.machine, 'uuid-s');
    const until = new Date(armed.until).getTime();
    // Armed at receipt of the arming sample, for the 10 minute period.
    assert.ok(until - Date.now() > 9 * 60_000 && until - Date.now() <= 10 * 60_000, armed.until);
    assert.ok(armed.remainingMs > 9 * 60_000);
    assert.ok(armed.samples >= 1);
  });

  test('GET /api/services/:name/decisions: newest first, limited', async () => {
    const all = await getJson(`${env.url}/api/services/web/decisions`);
    assert.equal(all.status, 200);
    assert.equal(all.body.service, 'web');
    assert.equal(all.body.limit, 50);
    const records = all.body.decisions as { id: string; at: number; outcome: string }[];
    assert.ok(records.length >= 2);
    for (let i = 1; i < records.length; i += 1) assert.ok(records[i - 1]!.id > records[i]!.id, 'newest first');
    const one = await getJson(`${env.url}/api/services/web/decisions?limit=1`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.decisions.map((d: { id: string }) => d.id), [records[0]!.id]);
    assert.equal(one.body.count, 1);
    const max = await getJson(`${env.url}/api/services/web/decisions?limit=1000`);
    assert.equal(max.status, 200);
  });

  test('bad limit values are 400 with a JSON error naming limit', async () => {
    for (const [raw, shown] of [['0', '"0"'], ['1001', '"1001"'], ['abc', '"abc"'], ['-1', '"-1"'], ['1.5', '"1.5"'], ['', '""'], ['1e3', '"1e3"']]) {
      const { status, body } = await getJson(`${env.url}/api/services/web/decisions?limit=${encodeURIComponent(raw!)}`);
      assert.equal(status, 400, raw);
      assert.deepEqual(body, { error: `query parameter "limit" must be an integer from 1 to 1000 (got ${shown})` });
    }
    const twice = await getJson(`${env.url}/api/services/web/decisions?limit=1&limit=2`);
    assert.equal(twice.status, 400);
    assert.deepEqual(twice.body, { error: 'query parameter "limit" must be an integer from 1 to 1000 (got 2 values)' });
    const overview = await getJson(`${env.url}/api/services?decisions=500`);
    assert.equal(overview.status, 400);
    assert.deepEqual(overview.body, { error: 'query parameter "decisions" must be an integer from 0 to 100 (got "500")' });
  });

  test('an unknown service is 404 with a JSON error listing the services', async () => {
    for (const path of ['/api/services/nope/decisions', '/api/services/nope', '/api/services/nope/decisions?limit=5']) {
      const { status, body } = await getJson(`${env.url}${path}`);
      assert.equal(status, 404, path);
      assert.deepEqual(body, { error: 'unknown service "nope"; services: web, slow' });
    }
    // An attached service is configured: it has (no) decisions of its own, and is shown in its parent.
    const attached = await getJson(`${env.url}/api/services/web_disc/decisions`);
    assert.equal(attached.status, 200);
    assert.deepEqual(attached.body.decisions, []);
    const attachedView = await getJson(`${env.url}/api/services/web_disc`);
    assert.equal(attachedView.status, 404);
    assert.match(attachedView.body.error, /attached service; see its parent/);
  });

  test('unknown paths, bad encodings and wrong methods are 4xx JSON, never a stack', async () => {
    const missing = await getJson(`${env.url}/api/nothing`);
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /^no such endpoint: GET \/api\/nothing; endpoints: GET \/healthz, /);
    const encoding = await getJson(`${env.url}/api/services/%E0%A4%A/decisions`);
    assert.equal(encoding.status, 400);
    assert.equal(typeof encoding.body.error, 'string');
    assert.doesNotMatch(encoding.body.error, /\n\s+at /);
    const method = await fetch(`${env.url}/readyz`, { method: 'DELETE' });
    assert.equal(method.status, 405);
    assert.deepEqual(await method.json(), { error: 'DELETE /readyz is not allowed; use GET' });
  });

  test('GET /readyz is 503 naming fleet when fleet is down; the API still answers from etcd', async () => {
    await env.stopEmulator();
    // Answers are at most a second old (the read model): the next refresh sees fleet gone.
    const ready = await waitFor(async () => {
      const r = await getJson(`${env.url}/readyz`);
      return r.status === 503 ? r : null;
    }, 5_000, '/readyz 503');
    assert.equal(ready.body.ready, false);
    assert.deepEqual(ready.body.failing, ['fleet']);
    assert.match(ready.body.error, /^not ready: fleet is not reachable \(GET \/fleet\/v1\/machines: connection (refused|dropped|reset).*\)$/);
    assert.equal(ready.body.checks.redis.ok, true);
    assert.equal(ready.body.checks.etcd.ok, true);
    assert.equal(ready.body.checks.fleet.ok, false);
    const services = await waitFor(async () => {
      const r = await getJson(`${env.url}/api/services`);
      return r.body.fleet?.reachable === false ? r : null;
    }, 5_000, '/api/services shows fleet unreachable');
    assert.equal(services.status, 200);
    assert.equal(services.body.fleet.reachable, false);
    const web = (services.body as Overview).services.find((s) => s.name === 'web')!;
    assert.equal(web.desired, 1);
    assert.equal(web.actual, null);
    assert.equal(web.instances[0]!.fleetState, 'unknown');
    const health = await getJson(`${env.url}/healthz`);
    assert.equal(health.status, 200);
  });
});
