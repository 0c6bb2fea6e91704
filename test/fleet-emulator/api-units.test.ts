import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { opt, startTestFleet, type TestFleet } from './support';

let fleet: TestFleet;
before(async () => { fleet = await startTestFleet(); });
after(async () => { await fleet.emulator.stop(); });

const HELLO_OPTIONS = [
  opt('Unit', 'Description', 'Hello World'),
  opt('Service', 'ExecStart', '/bin/bash -c "while true; do echo \\"Hello, world\\"; sleep 1; done"'),
];
const SLEEP = [opt('Service', 'ExecStart', '/usr/bin/sleep 3000')];
const err = (code: number, message: string) => JSON.stringify({ error: { code, message } });

function assertEmpty(res: { status: number; body: string; header(n: string): string | undefined }, status: number): void {
  assert.equal(res.status, status);
  assert.equal(res.body, '');
  assert.equal(res.header('Content-Type'), undefined);
  assert.equal(res.header('Server'), 'fleetd/1.0.0');
}

test('case 6: create without desiredState -> 201, empty body, no Content-Type; GET shows inactive/inactive', async () => {
  const res = await fleet.put('hello.service', { name: 'hello.service', options: HELLO_OPTIONS });
  assertEmpty(res, 201);
  assert.equal(res.header('Content-Length'), '0');
  const get = await fleet.get('/fleet/v1/units/hello.service');
  assert.equal(get.status, 200);
  assert.equal(get.header('Content-Type'), 'application/json');
  assert.equal(get.body, '{"currentState":"inactive","desiredState":"inactive","name":"hello.service","options":[{"name":"Description","section":"Unit","value":"Hello World"},{"name":"ExecStart","section":"Service","value":"/bin/bash -c \\"while true; do echo \\\\\\"Hello, world\\\\\\"; sleep 1; done\\""}]}');
  await fleet.del('hello.service');
});

test('case 7: create with desiredState launched -> 201 (and 204 when the identical unit exists)', async () => {
  assertEmpty(await fleet.put('sleep7.service', { desiredState: 'launched', options: SLEEP }), 201);
  assertEmpty(await fleet.put('sleep7.service', { desiredState: 'launched', options: SLEEP }), 204);
  assert.equal((await fleet.unit('sleep7.service')).desiredState, 'launched');
  await fleet.del('sleep7.service');
});

test('case 8: a new unit without options -> 409', async () => {
  for (const body of [{ desiredState: 'launched' }, { desiredState: 'launched', options: null }, { desiredState: 'launched', options: [] }, {}]) {
    const res = await fleet.put('new.service', body);
    assert.equal(res.status, 409);
    assert.equal(res.body, err(409, 'unit does not exist and options field empty'));
  }
  // fleet does not instantiate templates on the server.
  assert.equal((await fleet.put('foo@1.service', { desiredState: 'launched' })).body, err(409, 'unit does not exist and options field empty'));
});

test('case 9: an existing unit with {}, null, or identical options and no desiredState -> 409', async () => {
  await fleet.put('exists.service', { options: SLEEP });
  for (const body of ['{}', 'null', JSON.stringify({ options: SLEEP }), JSON.stringify({ name: 'exists.service' })]) {
    const res = await fleet.put('exists.service', body);
    assert.equal(res.status, 409, body);
    assert.equal(res.body, err(409, 'must provide DesiredState to update existing unit'));
  }
  await fleet.del('exists.service');
});

test('case 10+11: desiredState updates are 204, also when repeated and with identical options', async () => {
  await fleet.put('upd.service', { options: SLEEP });
  assertEmpty(await fleet.put('upd.service', { desiredState: 'loaded' }), 204);
  assertEmpty(await fleet.put('upd.service', { desiredState: 'loaded' }), 204);
  assertEmpty(await fleet.put('upd.service', { desiredState: 'inactive', options: SLEEP }), 204);
  assert.equal((await fleet.unit('upd.service')).desiredState, 'inactive');
  await fleet.del('upd.service');
});

test('case 12: different options replace the unit (201); desiredState is the request value or inactive', async () => {
  await fleet.put('repl.service', { desiredState: 'loaded', options: SLEEP });
  assertEmpty(await fleet.put('repl.service', { options: [opt('Service', 'ExecStart', '/bin/sleep 100')] }), 201);
  let unit = await fleet.unit('repl.service');
  assert.equal(unit.desiredState, 'inactive');
  assert.deepEqual(unit.options, [{ name: 'ExecStart', section: 'Service', value: '/bin/sleep 100' }]);
  assertEmpty(await fleet.put('repl.service', { desiredState: 'loaded', options: SLEEP }), 201);
  unit = await fleet.unit('repl.service');
  assert.equal(unit.desiredState, 'loaded');
  assert.equal(unit.options[0].value, '/usr/bin/sleep 3000');
  // Q15: options that are not normalized never count as identical.
  assertEmpty(await fleet.put('repl.service', { options: [opt('Service', 'ExecStart', ' /usr/bin/sleep 3000 ')] }), 201);
  assert.equal((await fleet.unit('repl.service')).desiredState, 'inactive');
  await fleet.del('repl.service');
});

test('case 13: a body name that differs from the URL -> 400; a body without a name uses the URL', async () => {
  await fleet.put('sleep.service', { options: SLEEP });
  const res = await fleet.put('sleep.service', { name: 'other.service', desiredState: 'loaded' });
  assert.equal(res.status, 400);
  assert.equal(res.body, err(400, 'name in URL "sleep.service" differs from unit name in request body "other.service"'));
  assertEmpty(await fleet.put('sleep.service', { desiredState: 'loaded' }), 204);
  await fleet.del('sleep.service');
});

test('case 14: Content-Type must be exactly one application/json', async () => {
  const body = JSON.stringify({ options: SLEEP });
  const put = (headers: Array<[string, string]>) => fleet.request('PUT', '/fleet/v1/units/ct.service', { headers, body });
  assert.equal((await put([])).body, err(415, 'expected 1 Content-Type, got 0'));
  assert.equal((await put([['Content-Type', 'application/json'], ['Content-Type', 'application/json']])).body, err(415, 'expected 1 Content-Type, got 2'));
  assert.equal((await put([['Content-Type', 'application/xml']])).body, err(415, 'only acceptable Content-Type is application/json'));
  assert.equal((await put([['Content-Type', 'Application/JSON']])).body, err(415, 'only acceptable Content-Type is application/json'));
  assert.equal((await put([['Content-Type', 'application/json; charset=utf-8']])).status, 201);
  assert.equal((await put([['Content-Type', ' application/json ;x=y']])).status, 409);
  await fleet.del('ct.service');
});

test('case 15: body decoding follows Go: EOF, unexpected EOF, type errors, case-insensitive keys, first value only', async () => {
  await fleet.put('dec.service', { options: SLEEP });
  const cases: Array<[string, string]> = [
    ['', 'unable to decode body: EOF'],
    ['   \n', 'unable to decode body: EOF'],
    ['{"desiredState":', 'unable to decode body: unexpected EOF'],
    ['{"desiredState":"lo', 'unable to decode body: unexpected EOF'],
    ['{"desiredState":1}', 'unable to decode body: json: cannot unmarshal number into Go struct field Unit.desiredState of type string'],
    ['{"options":"x"}', 'unable to decode body: json: cannot unmarshal string into Go struct field Unit.options of type []*schema.UnitOption'],
    ['{"options":[1]}', 'unable to decode body: json: cannot unmarshal number into Go struct field Unit.options of type schema.UnitOption'],
    ['{"options":[{"value":true}]}', 'unable to decode body: json: cannot unmarshal bool into Go struct field UnitOption.options.value of type string'],
    ['[]', 'unable to decode body: json: cannot unmarshal array into Go value of type schema.Unit'],
    ['"x"', 'unable to decode body: json: cannot unmarshal string into Go value of type schema.Unit'],
    ['x', "unable to decode body: invalid character 'x' looking for beginning of value"],
    ['{"a" 1}', "unable to decode body: invalid character '1' after object key"],
    ['{"a":1 "b"}', `unable to decode body: invalid character '"' after object key:value pair`],
    ['{a:1}', "unable to decode body: invalid character 'a' looking for beginning of object key string"],
    ['{"desiredState":tru}', "unable to decode body: invalid character '}' in literal true (expecting 'e')"],
    ['{"a":[1 2]}', "unable to decode body: invalid character '2' after array element"],
    ['{"a":-x}', "unable to decode body: invalid character 'x' in numeric literal"],
    ['{"a":"\\q"}', "unable to decode body: invalid character 'q' in string escape code"],
  ];
  for (const [body, message] of cases) {
    const res = await fleet.put('dec.service', body);
    assert.equal(res.status, 400, body);
    assert.equal(res.body, err(400, message), body);
  }
  assertEmpty(await fleet.put('dec.service', '{"DesiredState":"loaded"}'), 204);
  assertEmpty(await fleet.put('dec.service', '{"desiredState":"inactive","unknown":[1,{"x":null}]} trailing garbage'), 204);
  assertEmpty(await fleet.put('dec.service', '{"desiredState":"loaded","desiredState":"inactive"}'), 204);
  assert.equal((await fleet.unit('dec.service')).desiredState, 'inactive');
  await fleet.del('dec.service');
});

test('case 16: unit name validation messages; quirky names are accepted', async () => {
  const cases: Array<[string, string]> = [
    ['foo', 'unit name must contain "."'],
    ['foo.', 'unit name cannot end in "."'],
    ['foo.bar', 'invalid unit type: "bar"'],
    ['foo@1.mount', 'invalid unit type for template: "mount"'],
    ['a b.service', "invalid character ' ' in unit name"],
    ['@foo.service', 'unit name cannot start in "@"'],
    [`${'a'.repeat(250)}.service`, 'unit name exceeds maximum length (256)'],
  ];
  for (const [name, message] of cases) {
    const res = await fleet.put(name, { options: SLEEP });
    assert.equal(res.body, err(400, message), name);
  }
  for (const name of ['a:b\\c.service', 'foo@.target', '.service']) {
    assert.equal((await fleet.put(name, { options: SLEEP })).status, 201, name);
    assert.equal((await fleet.del(name)).status, 204, name);
  }
});

test('case 17: X-Fleet combination rules; unknown X-Fleet keys are accepted', async () => {
  const res = await fleet.put('val.service', { options: [opt('X-Fleet', 'MachineID', 'abc'), opt('X-Fleet', 'Conflicts', 'x*')] });
  assert.equal(res.body, err(400, 'MachineID cannot be used with Conflicts'));
  const peer = await fleet.put('val.service', { options: [opt('X-Fleet', 'MachineOf', 'val2.service'), opt('X-Fleet', 'Conflicts', 'val*')] });
  assert.equal(peer.body, err(400, 'unresolvable requirements: peer "val2.service" matches conflict "val*"'));
  assert.equal((await fleet.put('val.service', { options: [opt('X-Fleet', 'Global', 'true'), opt('X-Fleet', 'Replaces', 'x.service')] })).body, err(400, 'Global cannot be used with Replaces'));
  assert.equal((await fleet.put('val.service', { options: [...SLEEP, opt('X-Fleet', 'Foo', 'bar')] })).status, 201);
  // Q5: the replace path validates too.
  assert.equal((await fleet.put('val.service', { options: [opt('X-Fleet', 'MachineID', 'abc'), opt('X-Fleet', 'Global', 'true')] })).body, err(400, 'MachineID cannot be used with Global'));
  await fleet.del('val.service');
});

test('case 18: round-trip validation of options', async () => {
  assert.equal((await fleet.put('rt.service', { options: [opt('Service', 'ExecStart', 'line1\nline2')] })).body, err(400, 'unexpected newline encountered while parsing option name'));
  assert.equal((await fleet.put('rt.service', { options: [opt('Serv]ice', 'A', 'b')] })).body, err(400, 'found garbage after section name : [105 99 101 93]'));
  assert.equal((await fleet.put('rt.service', { options: [opt('Service', 'ExecStart', `/bin/echo ${'x'.repeat(2040)}`)] })).body, err(400, 'line too long (max 2048 bytes)'));
  assert.equal((await fleet.put('rt.service', { options: [opt('Service', 'ExecStart', '/bin/sh -c \\\n  "echo hi"')] })).status, 201);
  assert.equal((await fleet.unit('rt.service')).options[0].value, '/bin/sh -c \\\n  "echo hi"');
  await fleet.del('rt.service');
});

test('case 19: templates cannot be activated through the update path, and never run', async () => {
  assert.equal((await fleet.put('web@.service', { options: SLEEP })).status, 201);
  assert.equal((await fleet.put('web@.service', { desiredState: 'launched' })).body, err(400, 'cannot activate template "web@.service"'));
  assert.equal((await fleet.put('web@.service', { desiredState: 'loaded' })).body, err(400, 'cannot activate template "web@.service"'));
  assertEmpty(await fleet.put('web@.service', { desiredState: 'inactive' }), 204);
  // Q6: the create path keeps fleet's 201, but the template is never scheduled.
  assert.equal((await fleet.put('t@.service', { desiredState: 'launched', options: SLEEP })).status, 201);
  await fleet.waitForPasses(2);
  const t = await fleet.unit('t@.service');
  assert.equal(t.currentState, 'inactive');
  assert.equal(t.machineID, undefined);
  assert.equal((await fleet.states('?unitName=t%40.service')).length, 0);
  await fleet.del('web@.service');
  await fleet.del('t@.service');
});

test('case 20: an invalid desiredState is a 400 on create and on update (deviation Q4)', async () => {
  assert.equal((await fleet.put('bad.service', { desiredState: 'running', options: SLEEP })).body, err(400, 'invalid value "running" for JobState'));
  assert.equal(await fleet.unit('bad.service'), null);
  await fleet.put('bad.service', { options: SLEEP });
  assert.equal((await fleet.put('bad.service', { desiredState: 'running' })).body, err(400, 'invalid value "running" for JobState'));
  assert.equal((await fleet.unit('bad.service')).desiredState, 'inactive');
  await fleet.del('bad.service');
});

test('case 21: GET and DELETE of a missing unit are 404; DELETE then GET is 404', async () => {
  assert.equal((await fleet.get('/fleet/v1/units/missing.service')).body, err(404, 'unit does not exist'));
  assert.equal((await fleet.get('/fleet/v1/units/foo')).body, err(404, 'unit does not exist'));
  assert.equal((await fleet.del('missing.service')).body, err(404, 'unit does not exist'));
  await fleet.put('gone.service', { options: SLEEP });
  assertEmpty(await fleet.del('gone.service'), 204);
  assert.equal((await fleet.get('/fleet/v1/units/gone.service')).body, err(404, 'unit does not exist'));
  assert.equal((await fleet.del('gone.service')).status, 404);
});

test('case 22: GET returns normalized options with Go escaping', async () => {
  await fleet.put('norm.service', { options: [
    opt('Unit', 'Description', '  a <b> & c  '),
    opt('Service', 'ExecStart', '/bin/true'),
    opt('Unit', 'After', 'network.target'),
    opt('Service', 'Environment', ''),
  ] });
  const res = await fleet.get('/fleet/v1/units/norm.service');
  assert.equal(res.body, '{"currentState":"inactive","desiredState":"inactive","name":"norm.service","options":[{"name":"Description","section":"Unit","value":"a \\u003cb\\u003e \\u0026 c"},{"name":"After","section":"Unit","value":"network.target"},{"name":"ExecStart","section":"Service","value":"/bin/true"},{"name":"Environment","section":"Service"}]}');
  await fleet.del('norm.service');
});

test('case 23: omitted fields; global units; empty lists are {}', async () => {
  assert.equal((await fleet.get('/fleet/v1/units')).body, '{}');
  assert.equal((await fleet.get('/fleet/v1/state')).body, '{}');
  await fleet.put('glob.service', { desiredState: 'loaded', options: [opt('Service', 'ExecStart', '/bin/true'), opt('X-Fleet', 'Global', 'true')] });
  const get = await fleet.get('/fleet/v1/units/glob.service');
  assert.equal(get.body.startsWith('{"desiredState":"loaded","name":"glob.service","options":'), true, get.body);
  const list = await fleet.get('/fleet/v1/units');
  assert.equal(list.body.startsWith('{"units":[{"currentState":"inactive","desiredState":"loaded","name":"glob.service","options":'), true, list.body);
  await fleet.del('glob.service');
  await fleet.put('plain.service', { options: SLEEP });
  assert.equal((await fleet.unit('plain.service')).machineID, undefined);
  await fleet.del('plain.service');
});

test('case 24: /units sorted by name in byte order', async () => {
  for (const name of ['b.service', 'a.service', 'B.service', 'a@1.service', 'a-b.service']) await fleet.put(name, { options: SLEEP });
  const names = (await fleet.get('/fleet/v1/units')).json().units.map((u: { name: string }) => u.name);
  assert.deepEqual(names, ['B.service', 'a-b.service', 'a.service', 'a@1.service', 'b.service']);
  for (const name of names) await fleet.del(name);
});
