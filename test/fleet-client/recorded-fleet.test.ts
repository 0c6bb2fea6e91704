/** The client against recorded fleet v1.0.0 answers (spec §9): request bytes, pagination, real-fleet quirks. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FleetApiError, FleetClient, FleetNetworkError, FleetTimeoutError, type RetryPolicy } from '@dynamite/fleet-client';
import { contentTypes, fleetError, startRecordedFleet, type RecordedFleet } from './recorded-fleet';

const servers: RecordedFleet[] = [];
const clients: FleetClient[] = [];
after(async () => {
  for (const client of clients) client.close();
  for (const server of servers) await server.stop();
});

async function fleetWith(answer: Parameters<typeof startRecordedFleet>[0], retry: Partial<RetryPolicy> = { baseDelayMs: 1, maxDelayMs: 5 }) {
  const server = await startRecordedFleet(answer);
  servers.push(server);
  const client = new FleetClient({ endpoint: server.url, retry, timeoutMs: 2_000 });
  clients.push(client);
  return { server, client };
}

const HELLO_OPTIONS = [
  { section: 'Unit', name: 'Description', value: 'Hello World' },
  { section: 'Service', name: 'ExecStart', value: '/bin/bash -c "while true; do echo \\"Hello, world\\"; sleep 1; done"' },
];

test('case 41: submit sends fleetctl\'s body with one Content-Type and reports 201 as created, 204 as updated', async () => {
  let puts = 0;
  const { server, client } = await fleetWith(() => ({ status: ++puts === 1 ? 201 : 204 }));
  assert.deepEqual(await client.putUnit('hello.service', { options: HELLO_OPTIONS }), { status: 'created' });
  assert.deepEqual(await client.setDesiredState('hello.service', 'launched'), { status: 'updated' });
  const [submit, start] = server.exchanges;
  assert.equal(`${submit.method} ${submit.url}`, 'PUT /fleet/v1/units/hello.service');
  assert.equal(submit.body, '{"name":"hello.service","options":[{"name":"Description","section":"Unit","value":"Hello World"},{"name":"ExecStart","section":"Service","value":"/bin/bash -c \\"while true; do echo \\\\\\"Hello, world\\\\\\"; sleep 1; done\\""}]}');
  assert.deepEqual(contentTypes(submit), ['application/json']);
  assert.equal(start.body, '{"desiredState":"launched","name":"hello.service"}');
});

test('names are percent-encoded and empty option values are omitted, as the Go client sends them', async () => {
  const { server, client } = await fleetWith(() => ({ status: 201 }));
  await client.putUnit('web@8080.service', { options: [{ section: 'Service', name: 'Environment', value: '' }] });
  assert.equal(server.exchanges[0].url, '/fleet/v1/units/web%408080.service');
  assert.equal(server.exchanges[0].body, '{"name":"web@8080.service","options":[{"name":"Environment","section":"Service"}]}');
});

test('case 26: listUnits follows nextPageToken, sending it URL-encoded, until a page has none', async () => {
  const pages: Record<string, string> = {
    '/fleet/v1/units': '{"nextPageToken":"AgACAA==","units":[{"currentState":"inactive","desiredState":"inactive","name":"a.service"},{"currentState":"inactive","desiredState":"inactive","name":"b.service"}]}',
    '/fleet/v1/units?nextPageToken=AgACAA%3D%3D': '{"nextPageToken":"AgADAA==","units":[{"currentState":"inactive","desiredState":"inactive","name":"c.service"},{"currentState":"inactive","desiredState":"inactive","name":"d.service"}]}',
    '/fleet/v1/units?nextPageToken=AgADAA%3D%3D': '{}',
  };
  const { server, client } = await fleetWith((ex) => (pages[ex.url] ? { status: 200, json: pages[ex.url] } : fleetError(400, 'token limit must be 2')));
  const units = await client.listUnits();
  assert.deepEqual(units.map((u) => u.name), ['a.service', 'b.service', 'c.service', 'd.service']);
  assert.deepEqual(units[0].options, []);
  assert.equal(units[0].machineID, '');
  assert.deepEqual(server.exchanges.map((e) => e.url), Object.keys(pages));
});

test('case 26: listUnitStates keeps its filters on every page; empty pages are []', async () => {
  const { server, client } = await fleetWith((ex) =>
    ex.url.includes('nextPageToken') ? { status: 200, json: '{}' } : { status: 200, json: '{"nextPageToken":"AgACAA==","states":[{"hash":"e55c0aeb44ba0b68004ceb8a200e685194448b45","machineID":"m1","name":"hello.service","systemdActiveState":"active","systemdLoadState":"loaded","systemdSubState":"running"}]}' });
  const states = await client.listUnitStates({ machineID: 'm1', unitName: 'hello.service' });
  assert.equal(states.length, 1);
  assert.equal(states[0].systemdSubState, 'running');
  assert.deepEqual(server.exchanges.map((e) => e.url), [
    '/fleet/v1/state?machineID=m1&unitName=hello.service',
    '/fleet/v1/state?machineID=m1&unitName=hello.service&nextPageToken=AgACAA%3D%3D',
  ]);
});

test('spec 1 defaults: {} lists are [], a bare machine has "" IP and {} metadata, a global unit has no currentState', async () => {
  const bodies: Record<string, string> = {
    '/fleet/v1/machines': '{"machines":[{"id":"2c8d3e1a9f0b4c7d8e6f5a4b3c2d1e0f","metadata":{"region":"local"},"primaryIP":"10.0.0.5"},{"id":"9a1b2c3d4e5f60718293a4b5c6d7e8f9"}]}',
    '/fleet/v1/units': '{}',
    '/fleet/v1/state': '{}',
    '/fleet/v1/units/g.service': '{"desiredState":"launched","name":"g.service","options":[{"name":"Global","section":"X-Fleet","value":"true"},{"name":"Environment","section":"Service"}]}',
  };
  const { client } = await fleetWith((ex) => ({ status: 200, json: bodies[ex.url] }));
  assert.deepEqual(await client.listMachines(), [
    { id: '2c8d3e1a9f0b4c7d8e6f5a4b3c2d1e0f', primaryIP: '10.0.0.5', metadata: { region: 'local' } },
    { id: '9a1b2c3d4e5f60718293a4b5c6d7e8f9', primaryIP: '', metadata: {} },
  ]);
  assert.deepEqual(await client.listUnits(), []);
  assert.deepEqual(await client.listUnitStates(), []);
  assert.deepEqual(await client.getUnit('g.service'), {
    name: 'g.service',
    desiredState: 'launched',
    currentState: '',
    machineID: '',
    options: [{ section: 'X-Fleet', name: 'Global', value: 'true' }, { section: 'Service', name: 'Environment', value: '' }],
  });
});

test('case 42: real fleet v1.0.0 drops the connection on GET /state/{name} without state; the client reads null', async () => {
  const { server, client } = await fleetWith(() => 'drop');
  assert.equal(await client.getUnitState('hello.service'), null);
  // One retry in case the drop was a stale keep-alive socket; no more, since real fleet drops every time.
  assert.equal(server.exchanges.length, 2);
  assert.ok(server.exchanges.every((e) => e.url === '/fleet/v1/state/hello.service'));
});

test('a dropped connection on other calls is a FleetNetworkError after the retry budget', async () => {
  const { server, client } = await fleetWith(() => 'drop', { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 });
  await assert.rejects(client.getUnit('hello.service'), (err: unknown) =>
    err instanceof FleetNetworkError && err.kind === 'reset' && err.attempts === 3 && /^GET \/fleet\/v1\/units\/hello.service: connection dropped/.test(err.message));
  assert.equal(server.exchanges.length, 3);
});

test('case 42: a 503 from the outer handler (no Server header) is retried', async () => {
  let calls = 0;
  const { server, client } = await fleetWith(() =>
    ++calls < 3 ? { ...fleetError(503, 'fleet server unable to communicate with etcd'), server: false } : { status: 200, json: '{"machines":[{"id":"m"}]}' });
  assert.deepEqual((await client.listMachines()).map((m) => m.id), ['m']);
  assert.equal(server.exchanges.length, 3);
});

test('error bodies: fleet\'s message is parsed; a proxy\'s HTML page is tolerated', async () => {
  const { client } = await fleetWith((ex) =>
    ex.method === 'PUT' ? fleetError(409, 'unit does not exist and options field empty') : { status: 404, text: '<html><body>Not Found</body></html>' });
  await assert.rejects(client.setDesiredState('web@8080.service', 'launched'), (err: unknown) =>
    err instanceof FleetApiError && err.status === 409 && err.code === 409 && !err.retryable && err.attempts === 1 &&
    err.fleetMessage === 'unit does not exist and options field empty' && err.method === 'PUT' && err.path === '/fleet/v1/units/web%408080.service' &&
    err.message === 'PUT /fleet/v1/units/web%408080.service: 409 unit does not exist and options field empty');
  await assert.rejects(client.listMachines(), (err: unknown) =>
    err instanceof FleetApiError && err.status === 404 && err.fleetMessage === '<html><body>Not Found</body></html>');
});

test('a server that never answers gives a timeout FleetNetworkError, bounded by the total budget', async () => {
  const { client } = await fleetWith(() => 'hang', { attempts: 10, baseDelayMs: 1, maxDelayMs: 1, maxTotalMs: 300 });
  await assert.rejects(client.listMachines(), (err: unknown) => err instanceof FleetNetworkError && err.kind === 'timeout' && /no response within \d+ ms/.test(err.message));
});

test('connection refused is a FleetNetworkError of kind refused', async () => {
  const client = new FleetClient({ endpoint: '127.0.0.1:1', retry: { attempts: 2, baseDelayMs: 1 } });
  clients.push(client);
  await assert.rejects(client.ping(), (err: unknown) => err instanceof FleetNetworkError && err.kind === 'refused' && err.attempts === 1);
});

test('discovery replaces $ENDPOINT with the client\'s endpoint', async () => {
  const { server, client } = await fleetWith(() => ({ status: 200, json: '{"id":"fleet:v1","rootUrl":"$ENDPOINT/","baseUrl":"$ENDPOINT/fleet/v1/"}' }));
  const doc = await client.discovery();
  assert.equal(doc.id, 'fleet:v1');
  assert.equal(doc.rootUrl, `${server.url}/`);
  assert.equal(doc.baseUrl, `${server.url}/fleet/v1/`);
});

test('an invalid desired state is refused before anything is sent (#1356)', async () => {
  const { server, client } = await fleetWith(() => ({ status: 204 }));
  await assert.rejects(client.setDesiredState('x.service', 'running' as never), /invalid desired state "running": expected one of inactive, loaded, launched/);
  await assert.rejects(client.putUnit('x.service', { desiredState: 'started' as never, options: [] }), /invalid desired state "started"/);
  assert.equal(server.exchanges.length, 0);
});

test('the fleetctl default endpoint unix:///var/run/fleet.sock style works', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-sock-'));
  const server = await startRecordedFleet(() => ({ status: 200, json: '{"machines":[{"id":"m"}]}' }), path.join(dir, 'fleet.sock'));
  servers.push(server);
  const client = new FleetClient({ endpoint: server.url });
  clients.push(client);
  await client.ping();
  assert.equal(server.exchanges[0].url, '/fleet/v1/machines');
});

test('case 43: the client hashes options as fleet does: the recorded /state hash e55c0ae... matches hello.service', async () => {
  const unitBody = '{"currentState":"launched","desiredState":"launched","machineID":"2c8d3e1a9f0b4c7d8e6f5a4b3c2d1e0f","name":"hello.service","options":[{"name":"Description","section":"Unit","value":"Hello World"},{"name":"ExecStart","section":"Service","value":"/bin/bash -c \\"while true; do echo \\\\\\"Hello, world\\\\\\"; sleep 1; done\\""}]}';
  const stateBody = (hash: string) => `{"hash":"${hash}","machineID":"2c8d3e1a9f0b4c7d8e6f5a4b3c2d1e0f","name":"hello.service","systemdActiveState":"active","systemdLoadState":"loaded","systemdSubState":"running"}`;
  let stateHash = '1c6fb6f3684bafb0c173d8b8b957ceff031180c1'; // systemd still runs an older file
  const { client } = await fleetWith((ex) => ({ status: 200, json: ex.url.startsWith('/fleet/v1/state/') ? stateBody(stateHash) : unitBody }));
  await assert.rejects(client.waitForState('hello.service', 'launched', { waitMs: 100, pollMs: 20 }), (err: unknown) =>
    err instanceof FleetTimeoutError && /systemd has unit file 1c6fb6f, fleet has e55c0ae/.test(err.message));
  stateHash = 'e55c0aeb44ba0b68004ceb8a200e685194448b45';
  const unit = await client.waitForState('hello.service', 'launched', { active: true, waitMs: 1_000 });
  assert.deepEqual(unit.options, HELLO_OPTIONS);
});
