import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { EmulatorOptionError, startFleetEmulator } from '@dynamite/fleet-emulator';
import { opt, rawRequest, startTestFleet, type TestFleet } from './support';

let fleet: TestFleet;
before(async () => { fleet = await startTestFleet(); });
after(async () => { await fleet.emulator.stop(); });

const OPTIONS = [opt('Service', 'ExecStart', '/bin/sleep 600')];
const setFaults = (config: unknown) => fleet.request('POST', '/emulator/faults', { headers: [['Content-Type', 'application/json']], body: JSON.stringify(config) });

test('injected errors are fleet-shaped 500s, limited to a path and methods; DELETE clears', async () => {
  assert.equal((await setFaults({ errorRate: 1, path: '^/fleet/v1/units/web', methods: ['PUT'] })).status, 200);
  assert.deepEqual((await fleet.get('/emulator/faults')).json(), { errorRate: 1, path: '^/fleet/v1/units/web', methods: ['PUT'] });
  const failed = await fleet.put('web@1.service', { options: OPTIONS });
  assert.equal(failed.status, 500);
  assert.equal(failed.body, '{"error":{"code":500,"message":""}}');
  assert.equal(failed.header('Content-Type'), 'application/json');
  assert.equal(await fleet.unit('web@1.service'), null, 'GET is not affected and nothing was stored');
  assert.equal((await fleet.put('api.service', { options: OPTIONS })).status, 201);
  assert.equal((await fleet.request('DELETE', '/emulator/faults')).status, 204);
  assert.equal((await fleet.put('web@1.service', { options: OPTIONS })).status, 201);
  await fleet.del('web@1.service');
  await fleet.del('api.service');
});

test('latency delays matching requests; dropped requests close the connection without an answer', async () => {
  await setFaults({ latencyMs: 200, path: '^/fleet/v1/machines$' });
  const started = Date.now();
  assert.equal((await fleet.get('/fleet/v1/machines')).status, 200);
  assert.ok(Date.now() - started >= 190, 'the injected latency was applied');
  await setFaults({ dropRate: 1, methods: ['GET'] });
  await assert.rejects(fleet.get('/fleet/v1/units'), /connection closed without a response/);
  assert.equal((await fleet.put('x.service', { options: OPTIONS })).status, 201, 'other methods pass');
  await fleet.request('DELETE', '/emulator/faults');
  assert.equal((await fleet.get('/fleet/v1/units')).status, 200);
  await fleet.del('x.service');
});

test('a seeded error rate is repeatable', async () => {
  const run = async () => {
    await setFaults({ errorRate: 0.5, seed: 42, path: '^/fleet/v1/units$' });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await fleet.get('/fleet/v1/units')).status);
    return statuses;
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b);
  assert.ok(a.includes(500) && a.includes(200));
  await fleet.request('DELETE', '/emulator/faults');
});

test('bad fault configurations are rejected with a clear message', async () => {
  const cases: Array<[unknown, string]> = [
    [{ errorRate: 2 }, 'errorRate must be between 0 and 1'],
    [{ latencyMs: -1 }, 'latencyMs must be a non-negative number'],
    [{ path: '(' }, 'path is not a valid regular expression'],
    [{ methods: 'PUT' }, 'methods must be an array of strings'],
    [{ bogus: 1 }, 'unknown field "bogus"'],
    [[1], 'faults must be a JSON object'],
  ];
  for (const [body, message] of cases) {
    const res = await setFaults(body);
    assert.equal(res.status, 400);
    assert.ok(res.json().error.message.startsWith(message), res.body);
  }
  const res = await fleet.request('POST', '/emulator/faults', { body: '{bad' });
  assert.equal(res.status, 400);
});

test('not-ready mode answers 503 on every fleet path, without a Server header', async () => {
  assert.equal((await fleet.request('POST', '/emulator/not-ready')).status, 204);
  for (const path of ['/fleet/v1/units', '/fleet/v1/machines', '/v1-alpha/state', '/', '/anything']) {
    const res = await fleet.get(path);
    assert.equal(res.status, 503);
    assert.equal(res.body, '{"error":{"code":503,"message":"fleet server unable to communicate with etcd"}}');
    assert.equal(res.header('Content-Type'), 'application/json');
    assert.equal(res.header('Server'), undefined);
  }
  assert.deepEqual((await fleet.get('/emulator/not-ready')).json(), { notReady: true });
  assert.equal((await fleet.request('DELETE', '/emulator/not-ready')).status, 204);
  assert.equal((await fleet.get('/fleet/v1/units')).status, 200);
});

test('stats count requests per method and route, and per unit', async () => {
  await fleet.request('DELETE', '/emulator/stats');
  await fleet.put('counted.service', { options: OPTIONS });
  await fleet.put('counted.service', { desiredState: 'loaded' });
  await fleet.get('/fleet/v1/units/counted.service');
  await fleet.get('/v1-alpha/units');
  await fleet.del('counted.service');
  const stats = (await fleet.get('/emulator/stats')).json();
  assert.equal(stats.requests['PUT /fleet/v1/units/{name}'], 2);
  assert.equal(stats.requests['GET /fleet/v1/units/{name}'], 1);
  assert.equal(stats.requests['GET /v1-alpha/units'], 1);
  assert.deepEqual(stats.units['counted.service'], { PUT: 2, GET: 1, DELETE: 1 });
  assert.equal(stats.total, 5);
});

test('history lists every unit created, replaced and destroyed, in order, after a given seq', async () => {
  const start = (await fleet.get('/emulator/history')).json().last as number;
  await fleet.put('h.service', { options: OPTIONS });
  await fleet.put('h.service', { options: OPTIONS, desiredState: 'loaded' });
  await fleet.put('h.service', { options: [opt('Service', 'ExecStart', '/bin/sleep 601')] });
  await fleet.del('h.service');
  await fleet.put('h.service', { options: OPTIONS });
  await fleet.del('h.service');
  const history = (await fleet.get(`/emulator/history?after=${start}`)).json();
  assert.deepEqual(history.changes.map((c: { unit: string; change: string }) => `${c.unit} ${c.change}`),
    ['h.service created', 'h.service replaced', 'h.service destroyed', 'h.service created', 'h.service destroyed'],
    'the same options again and desired-state changes are no change of the unit');
  assert.deepEqual(history.changes.map((c: { seq: number }) => c.seq), [1, 2, 3, 4, 5].map((n) => start + n));
  assert.equal(history.last, start + 5);
  assert.ok(history.changes.every((c: { at: number }) => typeof c.at === 'number' && c.at > 0));
  assert.deepEqual((await fleet.get(`/emulator/history?after=${start + 5}`)).json().changes, []);
  const bad = await fleet.get('/emulator/history?after=-1');
  assert.equal(bad.status, 400);
  assert.equal(bad.json().error.message, 'after must be a non-negative integer');
});

test('the journal keeps unit output and emulator messages', async () => {
  await fleet.put('talk.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', '/bin/sh -c "echo out; echo err >&2; sleep 600"')] });
  const entries = await fleet.waitFor('output', async () => {
    const e = (await fleet.get('/emulator/units/talk.service/journal')).json().entries;
    return e.some((x: any) => x.stream === 'stderr') ? e : null;
  });
  assert.ok(entries.some((e: any) => e.stream === 'stdout' && e.message === 'out'));
  assert.ok(entries.some((e: any) => e.stream === 'stderr' && e.message === 'err'));
  assert.equal((await fleet.get('/emulator/units/talk.service/journal?lines=1')).json().entries.length, 1);
  const text = await fleet.get('/emulator/units/talk.service/journal?format=text');
  assert.match(text.body, / stdout: out\n/);
  await fleet.del('talk.service');
  await fleet.waitForNoState('talk.service');
});

test('the control API answers loopback clients only', async (t) => {
  await assert.rejects(startFleetEmulator({ host: '0.0.0.0' }), (err: unknown) => err instanceof EmulatorOptionError && err.message.startsWith('refusing to listen on 0.0.0.0:0: not a loopback address'));
  const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!external) return t.skip('no non-loopback IPv4 interface');
  const open = await startFleetEmulator({ host: '0.0.0.0', allowRemote: true });
  try {
    const res = await fetch(`http://${external.address}:${open.port}/emulator/stats`);
    assert.equal(res.status, 403);
    assert.equal((await fetch(`http://${external.address}:${open.port}/fleet/v1/machines`)).status, 200);
    assert.equal((await rawRequest(open.port, 'GET', '/emulator/stats')).status, 200);
  } finally {
    await open.stop();
  }
});

test('passes: GET counts full passes; POST /emulator/passes/wait answers after that many more; a pending wait ends when the emulator stops', async () => {
  const before = (await fleet.get('/emulator/passes')).json();
  assert.equal(before.agentLagMs, 0);
  assert.equal(before.waiting, 0);
  assert.equal(typeof before.completed, 'number');
  const waited = await fleet.waitForPasses(3);
  assert.ok(waited >= before.completed + 3, `${waited} >= ${before.completed} + 3`);
  // A unit created before the wait is launched after two passes in fast mode.
  await fleet.put('passes.service', { desiredState: 'launched', options: OPTIONS });
  await fleet.waitForPasses(2);
  assert.equal((await fleet.unit('passes.service')).currentState, 'launched');
  await fleet.del('passes.service');

  for (const body of ['{"count":0}', '{"count":1.5}', '{"count":"2"}', '{"count":1001}']) {
    const res = await fleet.request('POST', '/emulator/passes/wait', { body });
    assert.equal(res.body, '{"error":{"code":400,"message":"count must be an integer between 1 and 1000"}}', body);
  }
  assert.equal((await fleet.request('PUT', '/emulator/passes')).status, 405);

  const doomed = await startTestFleet({ reconcileIntervalMs: 60_000, agentLagMs: 60_000 });
  const pending = doomed.request('POST', '/emulator/passes/wait', { body: '{"count":1}' });
  await doomed.waitFor('the wait to be pending', async () => (await doomed.get('/emulator/passes')).json().waiting === 1);
  await doomed.emulator.stop();
  await assert.rejects(pending, /connection closed without a response/);
});
