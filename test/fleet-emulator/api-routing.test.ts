import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { opt, startTestFleet, type TestFleet } from './support';

let fleet: TestFleet;
before(async () => { fleet = await startTestFleet(); });
after(async () => { await fleet.emulator.stop(); });

function assertFleetError(res: { status: number; body: string; header(n: string): string | undefined }, status: number, message: string): void {
  assert.equal(res.status, status);
  assert.equal(res.body, JSON.stringify({ error: { code: status, message } }));
  assert.equal(res.header('Content-Type'), 'application/json');
  assert.equal(res.header('Server'), 'fleetd/1.0.0');
}

test('case 1+2: routing fallbacks give fleet-shaped errors with the exact messages', async () => {
  const cases: Array<[string, string, number, string]> = [
    ['GET', '/fleet/v1', 405, ''],
    ['GET', '/fleet/v1/', 404, ''],
    ['GET', '/fleet/v1/units/', 404, ''],
    ['PUT', '/fleet/v1/units/', 404, ''],
    ['GET', '/fleet/v1/units/a/b', 404, ''],
    ['GET', '/fleet/v1/machines/', 404, ''],
    ['GET', '/fleet/v1/nothing', 404, ''],
    ['GET', '/', 405, ''],
    ['DELETE', '/', 405, ''],
    ['GET', '/other', 404, ''],
    ['POST', '/fleet/v1/units', 405, 'only GET supported against this resource'],
    ['PUT', '/fleet/v1/units', 405, 'only GET supported against this resource'],
    ['PATCH', '/fleet/v1/units/x.service', 405, 'only GET, PUT and DELETE supported against this resource'],
    ['POST', '/fleet/v1/units/x.service', 405, 'only GET, PUT and DELETE supported against this resource'],
    ['PUT', '/fleet/v1/machines', 405, 'only GET and PATCH supported against this resource'],
    ['DELETE', '/fleet/v1/machines', 405, 'only GET and PATCH supported against this resource'],
    ['POST', '/fleet/v1/state', 405, 'only GET supported against this resource'],
    ['PUT', '/fleet/v1/state/x.service', 405, 'only GET supported against this resource'],
    ['POST', '/fleet/v1/discovery', 400, 'only HTTP GET supported against this resource'],
    ['PUT', '/fleet/v1/discovery', 400, 'only HTTP GET supported against this resource'],
    ['HEAD', '/fleet/v1/units', 405, 'only GET supported against this resource'],
  ];
  for (const [method, path, status, message] of cases) {
    const res = await fleet.request(method, path);
    if (method === 'HEAD') { assert.equal(res.status, status, `${method} ${path}`); continue; }
    assertFleetError(res, status, message);
  }
});

test('case 3: /v1-alpha behaves exactly like /fleet/v1', async () => {
  await fleet.put('alias.service', { options: [opt('Service', 'ExecStart', '/bin/true')] });
  for (const path of ['/units', '/units/alias.service', '/machines', '/state', '/units/missing.service', '/units/a/b', '', '/discovery']) {
    const a = await fleet.get(`/fleet/v1${path}`);
    const b = await fleet.get(`/v1-alpha${path}`);
    assert.equal(b.status, a.status, path);
    assert.equal(b.body, a.body, path);
    assert.equal(b.header('Content-Type'), a.header('Content-Type'), path);
  }
  const put = await fleet.request('PUT', '/v1-alpha/units/alias2.service', { headers: [['Content-Type', 'application/json']], body: JSON.stringify({ options: [opt('Service', 'ExecStart', '/bin/true')] }) });
  assert.equal(put.status, 201);
  assert.equal((await fleet.del('alias2.service')).status, 204);
  assert.equal((await fleet.del('alias.service')).status, 204);
});

test('case 4: the discovery document', async () => {
  const res = await fleet.get('/fleet/v1/discovery');
  assert.equal(res.status, 200);
  assert.equal(res.header('Content-Type'), 'application/json');
  const doc = res.json();
  assert.equal(doc.id, 'fleet:v1');
  assert.equal(doc.rootUrl, '$ENDPOINT/');
  assert.equal(doc.baseUrl, '$ENDPOINT/fleet/v1/');
  assert.deepEqual(Object.keys(doc.resources).sort(), ['Machines', 'UnitState', 'Units']);
  assert.deepEqual(Object.keys(doc.schemas.UnitState.properties), ['name', 'hash', 'machineID', 'systemdLoadState', 'systemdActiveState', 'systemdSubState']);
  assert.equal(doc.resources.UnitState.methods.Get.path, 'state/{unitName}');
});

test('case 5: unknown query parameters are ignored and percent-encoded names are decoded', async () => {
  const put = await fleet.request('PUT', '/fleet/v1/units/web%408080.service?alt=json', {
    headers: [['Content-Type', 'application/json']],
    body: JSON.stringify({ name: 'web@8080.service', options: [opt('Service', 'ExecStart', '/bin/true')] }),
  });
  assert.equal(put.status, 201);
  const get = await fleet.get('/fleet/v1/units/web%408080.service?alt=json&foo=bar');
  assert.equal(get.status, 200);
  assert.equal(get.json().name, 'web@8080.service');
  assert.equal((await fleet.get('/fleet/v1/units?alt=json')).json().units[0].name, 'web@8080.service');
  // A percent-encoded slash decodes to a second path segment: 404, as in Go.
  assert.equal((await fleet.get('/fleet/v1/units/a%2Fb.service')).status, 404);
  assert.equal((await fleet.del('web@8080.service')).status, 204);
});

test('unclean paths are redirected to the clean path like Go\'s ServeMux', async () => {
  const res = await fleet.get('/fleet/v1//units?alt=json');
  assert.equal(res.status, 301);
  assert.equal(res.header('Location'), '/fleet/v1/units?alt=json');
});

test('responses have no charset, are compact and have no trailing newline', async () => {
  const res = await fleet.get('/fleet/v1/machines');
  assert.equal(res.header('Content-Type'), 'application/json');
  assert.ok(!res.body.endsWith('\n'));
  assert.ok(!res.body.includes(' '));
});

test('the API is also served on a unix socket when asked (fleetd\'s default transport)', async () => {
  const { startFleetEmulator } = await import('@dynamite/fleet-emulator');
  const os = await import('node:os');
  const path = await import('node:path');
  const fs = await import('node:fs');
  const http = await import('node:http');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-emu-sock-'));
  const socketPath = path.join(dir, 'fleet.sock');
  const emulator = await startFleetEmulator({ socketPath });
  try {
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ socketPath, path: '/fleet/v1/machines' }, (res) => {
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.equal(body, JSON.stringify({ machines: [{ id: emulator.machineIds[0], primaryIP: '127.0.0.1' }] }));
  } finally {
    await emulator.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(fs.existsSync(socketPath), false);
});
