import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { opt, startTestFleet, type TestFleet } from './support';

let fleet: TestFleet;
before(async () => { fleet = await startTestFleet(); });
after(async () => { await fleet.emulator.stop(); });

const HELLO = [opt('Unit', 'Description', 'Hello World'), opt('Service', 'ExecStart', '/bin/sleep 600')];

/** fleetctl's name handling: basename, `.service` appended unless the suffix is recognized. */
function unitName(arg: string): string {
  const base = arg.split('/').pop()!;
  return /\.(service|socket|timer|path|device|mount|automount)$/.test(base) ? base : `${base}.service`;
}

async function listAllUnits(): Promise<any[]> {
  const units: any[] = [];
  for (let token = ''; ;) {
    const page = (await fleet.get(`/fleet/v1/units${token ? `?nextPageToken=${encodeURIComponent(token)}` : ''}`)).json();
    units.push(...(page.units ?? []));
    if (!page.nextPageToken) return units;
    token = page.nextPageToken;
  }
}

test('fleetctl submit, load, start, stop, unload, destroy and list-units as API call sequences', async () => {
  const name = unitName('hello');
  assert.equal(name, 'hello.service');

  // submit: GET (404), PUT {name, options} without desiredState (201), wait for inactive.
  assert.equal((await fleet.get(`/fleet/v1/units/${name}`)).status, 404);
  assert.equal((await fleet.put(name, { name, options: HELLO })).status, 201);
  await fleet.waitForCurrentState(name, 'inactive');
  // submit again is idempotent: the unit exists, no PUT.
  assert.equal((await fleet.get(`/fleet/v1/units/${name}`)).status, 200);

  // load: PUT loaded (204), wait for loaded. "Unit hello.service loaded on <id8>.../<ip>".
  assert.equal((await fleet.put(name, { desiredState: 'loaded', name })).status, 204);
  const loaded = await fleet.waitForCurrentState(name, 'loaded');
  const machine = (await fleet.get('/fleet/v1/machines')).json().machines.find((m: any) => m.id === loaded.machineID);
  assert.equal(`${loaded.machineID.slice(0, 8)}.../${machine.primaryIP}`, `${fleet.emulator.machineIds[0].slice(0, 8)}.../127.0.0.1`);

  // start: PUT launched, wait for launched, then poll /state/{name} until active and loaded.
  assert.equal((await fleet.put(name, { desiredState: 'launched', name })).status, 204);
  await fleet.waitForCurrentState(name, 'launched');
  const state = await fleet.waitFor('systemdActiveState active', async () => {
    const res = await fleet.get(`/fleet/v1/state/${name}`);
    const s = res.status === 200 ? res.json() : null;
    return s?.systemdActiveState === 'active' && s?.systemdLoadState === 'loaded' ? s : null;
  });
  assert.equal(state.systemdSubState, 'running');

  // list-units: GET /state (all pages): UNIT MACHINE ACTIVE SUB.
  const rows = (await fleet.get('/fleet/v1/state')).json().states.map((s: any) => [s.name, `${s.machineID.slice(0, 8)}.../127.0.0.1`, s.systemdActiveState, s.systemdSubState]);
  assert.deepEqual(rows, [['hello.service', `${fleet.emulator.machineIds[0].slice(0, 8)}.../127.0.0.1`, 'active', 'running']]);

  // stop: list, currentState launched -> PUT loaded, wait for loaded.
  const listed = (await listAllUnits()).find((u) => u.name === name);
  assert.equal(listed.currentState, 'launched');
  assert.equal((await fleet.put(name, { desiredState: 'loaded', name })).status, 204);
  await fleet.waitForCurrentState(name, 'loaded');
  await fleet.waitForSubState(name, 'inactive', 'dead');

  // unload: PUT inactive, wait for inactive; /state has no entry any more.
  assert.equal((await fleet.put(name, { desiredState: 'inactive', name })).status, 204);
  await fleet.waitForCurrentState(name, 'inactive');
  await fleet.waitForNoState(name);
  assert.equal((await fleet.get(`/fleet/v1/state/${name}`)).body, JSON.stringify({ error: { code: 404, message: 'unit state does not exist' } }));

  // stop on an inactive unit is an error in fleetctl: "Unable to stop unit hello.service in state inactive".
  assert.equal((await listAllUnits()).find((u) => u.name === name).currentState, 'inactive');

  // destroy: DELETE (204), a second DELETE is 404 (fleetctl ignores it).
  assert.equal((await fleet.del(name)).status, 204);
  assert.equal((await fleet.del(name)).status, 404);
  assert.equal((await listAllUnits()).length, 0);
});

test('fleetctl start --replace: a replace PUT resets desiredState, then launched again', async () => {
  await fleet.put('r.service', { desiredState: 'launched', options: HELLO });
  await fleet.waitForCurrentState('r.service', 'launched');
  const changed = [opt('Unit', 'Description', 'Changed'), opt('Service', 'ExecStart', '/bin/sleep 600')];
  assert.equal((await fleet.put('r.service', { name: 'r.service', options: changed })).status, 201);
  assert.equal((await fleet.unit('r.service')).desiredState, 'inactive');
  await fleet.waitForCurrentState('r.service', 'inactive');
  assert.equal((await fleet.put('r.service', { desiredState: 'launched', name: 'r.service' })).status, 204);
  await fleet.waitForCurrentState('r.service', 'launched');
  await fleet.del('r.service');
  await fleet.waitForNoState('r.service');
});

test('fleetctl list-unit-files and cat: hash, desired and current state, target; cat prints the serialized unit', async () => {
  await fleet.put('hello.service', { desiredState: 'loaded', options: [opt('Unit', 'Description', 'Hello World'), opt('Service', 'ExecStart', '/bin/bash -c "while true; do echo \\"Hello, world\\"; sleep 1; done"')] });
  await fleet.waitForCurrentState('hello.service', 'loaded');
  const { units } = (await fleet.get('/fleet/v1/units')).json();
  const { unitHash } = await import('@dynamite/unit-files');
  assert.equal(unitHash(units[0].options.map((o: any) => ({ section: o.section ?? '', name: o.name ?? '', value: o.value ?? '' }))).slice(0, 7), 'e55c0ae');
  assert.deepEqual([units[0].desiredState, units[0].currentState], ['loaded', 'loaded']);
  await fleet.del('hello.service');
});
