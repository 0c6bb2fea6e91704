import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { opt, startTestFleet, type TestFleet } from './support';

let fleet: TestFleet;
let ids: string[];
before(async () => {
  fleet = await startTestFleet({ tokenLimit: 2, machines: 3, metadata: { region: 'local' } });
  ids = [...fleet.emulator.machineIds].sort();
});
after(async () => { await fleet.emulator.stop(); });

const err = (code: number, message: string) => JSON.stringify({ error: { code, message } });
const SLEEP = [opt('Service', 'ExecStart', '/bin/sleep 600')];

test('case 25: pagination tokens, next token iff p*L <= total, empty final page, every error message', async () => {
  for (const name of ['a.service', 'b.service', 'c.service', 'd.service']) await fleet.put(name, { options: SLEEP });
  const page1 = (await fleet.get('/fleet/v1/units')).json();
  assert.equal(page1.nextPageToken, 'AgACAA==');
  assert.deepEqual(page1.units.map((u: { name: string }) => u.name), ['a.service', 'b.service']);
  const page1Body = (await fleet.get('/fleet/v1/units')).body;
  assert.ok(page1Body.startsWith('{"nextPageToken":"AgACAA==","units":[{'));
  const page2 = (await fleet.get('/fleet/v1/units?nextPageToken=AgACAA%3D%3D')).json();
  assert.equal(page2.nextPageToken, 'AgADAA==');
  assert.deepEqual(page2.units.map((u: { name: string }) => u.name), ['c.service', 'd.service']);
  assert.deepEqual((await fleet.get('/fleet/v1/units?nextPageToken=AgACAA==')).json(), page2);
  assert.equal((await fleet.get('/fleet/v1/units?nextPageToken=AgADAA%3D%3D')).body, '{}');
  assert.equal((await fleet.get('/fleet/v1/units?nextPageToken=AgAJAA%3D%3D')).body, '{}');

  await fleet.put('e.service', { options: SLEEP });
  const last = (await fleet.get('/fleet/v1/units?nextPageToken=AgADAA%3D%3D')).json();
  assert.equal(last.nextPageToken, undefined);
  assert.deepEqual(last.units.map((u: { name: string }) => u.name), ['e.service']);

  const errors: Array<[string, string]> = [
    ['nextPageToken=AgACAA%3D%3D&nextPageToken=AgACAA%3D%3D', 'too many values for page token'],
    ['nextPageToken=ZAACAA%3D%3D', 'token limit must be 2'],
    ['nextPageToken=EwBMLg%3D%3D', 'token limit must be 2'],
    ['nextPageToken=AgAAAA%3D%3D', 'token page must be greater than zero'],
    ['nextPageToken=', 'EOF'],
    ['nextPageToken=AA%3D%3D', 'unexpected EOF'],
    ['nextPageToken=AgA%3D', 'unexpected EOF'],
    ['nextPageToken=AgAC', 'unexpected EOF'],
    ['nextPageToken=!!!!', 'illegal base64 data at input byte 0'],
    ['nextPageToken=AgACAA', 'illegal base64 data at input byte 4'],
    ['nextPageToken=AgACAA%3D', 'illegal base64 data at input byte 7'],
    ['nextPageToken=A%3D%3D%3D', 'illegal base64 data at input byte 1'],
  ];
  for (const [query, message] of errors) {
    for (const path of ['/fleet/v1/units', '/fleet/v1/state', '/fleet/v1/machines']) {
      const res = await fleet.get(`${path}?${query}`);
      assert.equal(res.body, err(400, message), `${path}?${query}`);
    }
  }
  // Bytes beyond the first four are ignored.
  assert.deepEqual((await fleet.get('/fleet/v1/units?nextPageToken=AgACAP8%3D')).json(), (await fleet.get('/fleet/v1/units?nextPageToken=AgACAA%3D%3D')).json());
  for (const name of ['a.service', 'b.service', 'c.service', 'd.service', 'e.service']) await fleet.del(name);
});

test('case 24+25: /machines sorted by id and paginated; /state sorted by name then machine', async () => {
  const page1 = (await fleet.get('/fleet/v1/machines')).json();
  assert.deepEqual(page1.machines.map((m: { id: string }) => m.id), ids.slice(0, 2));
  assert.equal(page1.nextPageToken, 'AgACAA==');
  const page2 = (await fleet.get('/fleet/v1/machines?nextPageToken=AgACAA%3D%3D')).json();
  assert.deepEqual(page2.machines.map((m: { id: string }) => m.id), ids.slice(2));
  assert.equal(page2.nextPageToken, undefined);
  assert.equal((await fleet.get('/fleet/v1/machines')).body.startsWith(`{"machines":[{"id":"${ids[0]}","metadata":{"region":"local"},"primaryIP":"127.0.0.1"}`), true);

  await fleet.put('g.service', { desiredState: 'loaded', options: [...SLEEP, opt('X-Fleet', 'Global', 'true')] });
  await fleet.put('a.service', { desiredState: 'loaded', options: SLEEP });
  const all = (await fleet.waitFor('4 states', async () => {
    const states: any[] = [];
    for (let token: string | undefined = '', i = 0; token !== undefined && i < 5; i++) {
      const page = (await fleet.get(`/fleet/v1/state${token ? `?nextPageToken=${encodeURIComponent(token)}` : ''}`)).json();
      states.push(...(page.states ?? []));
      token = page.nextPageToken;
    }
    return states.length === 4 ? states : null;
  }))!;
  assert.deepEqual(all.map((s: any) => [s.name, s.machineID]), [['a.service', all[0].machineID], ['g.service', ids[0]], ['g.service', ids[1]], ['g.service', ids[2]]]);
  // Filters apply before pagination and use exact equality; the filter is kept on every page.
  const filtered = (await fleet.get(`/fleet/v1/state?unitName=g.service&machineID=${ids[2]}`)).json();
  assert.deepEqual(filtered.states.map((s: any) => s.machineID), [ids[2]]);
  assert.equal((await fleet.get('/fleet/v1/state?machineID=nope')).body, '{}');
  assert.equal((await fleet.get('/fleet/v1/state?unitName=g')).body, '{}');
  await fleet.del('g.service');
  await fleet.del('a.service');
});

test('case 40: PATCH /machines: nested value, validation before any change, remove deletes configured metadata', async () => {
  const patch = (body: string) => fleet.request('PATCH', '/fleet/v1/machines', { body });
  const res = await patch(JSON.stringify([
    { op: 'add', path: `/${ids[1]}/metadata/role`, value: { value: 'web' } },
    { op: 'remove', path: `/${ids[0]}/metadata/region` },
    { op: 'replace', path: '/unregistered/metadata/x', value: { value: 'y' } },
  ]));
  assert.equal(res.status, 204);
  assert.equal(res.body, '');
  assert.equal(res.header('Content-Type'), 'application/json');
  const machines = (await fleet.get('/fleet/v1/machines?nextPageToken=AgABAA%3D%3D')).json().machines;
  assert.deepEqual(machines, [
    { id: ids[0], primaryIP: '127.0.0.1' },
    { id: ids[1], metadata: { region: 'local', role: 'web' }, primaryIP: '127.0.0.1' },
  ]);

  const bad: Array<[string, string]> = [
    [JSON.stringify([{ op: 'add', path: `/${ids[1]}/metadata/role`, value: 'web' }]), 'json: cannot unmarshal string into Go struct field machineMetadataOp.Value of type struct { Value string "json:\\"value\\"" }'],
    [JSON.stringify([{ op: 'move', path: '/m/metadata/k', value: { value: 'v' } }]), 'invalid op: expect add, remove, or replace'],
    [JSON.stringify([{ op: 'add', path: '/m/k', value: { value: 'v' } }]), 'machine metadata path invalid'],
    [JSON.stringify([{ op: 'add', path: '/m/metadata/k' }]), 'invalid value: add and replace require a value'],
    [JSON.stringify([{ op: 'add', path: '/m/metadata/k', value: { value: '' } }]), 'invalid value: add and replace require a value'],
    [JSON.stringify({ op: 'add' }), 'json: cannot unmarshal object into Go value of type []api.machineMetadataOp'],
    [JSON.stringify([1]), 'json: cannot unmarshal number into Go value of type api.machineMetadataOp'],
    [JSON.stringify([{ op: 'add', path: '/m/metadata/k', value: { value: 1 } }]), 'json: cannot unmarshal number into Go struct field .Value.value of type string'],
    ['', 'EOF'],
    // All-or-nothing: the valid first operation is not applied.
    [JSON.stringify([{ op: 'add', path: `/${ids[0]}/metadata/zone`, value: { value: 'a' } }, { op: 'add', path: '/x' }]), 'machine metadata path invalid'],
  ];
  for (const [body, message] of bad) {
    const r = await patch(body);
    assert.equal(r.body, err(400, message), body);
  }
  assert.equal((await fleet.get('/fleet/v1/machines')).json().machines[0].metadata, undefined);
  // Keys are case-insensitive ("Value" as fleet's functional tests send), [] and null are no-ops.
  assert.equal((await patch(JSON.stringify([{ Op: 'add', Path: `/${ids[0]}/metadata/zone`, Value: { Value: 'a' } }]))).status, 204);
  assert.deepEqual((await fleet.get('/fleet/v1/machines')).json().machines[0].metadata, { zone: 'a' });
  assert.equal((await patch('[]')).status, 204);
  assert.equal((await patch('null')).status, 204);
  // Restore.
  await patch(JSON.stringify([{ op: 'remove', path: `/${ids[0]}/metadata/zone` }, { op: 'add', path: `/${ids[0]}/metadata/region`, value: { value: 'local' } }, { op: 'remove', path: `/${ids[1]}/metadata/role` }]));
});
