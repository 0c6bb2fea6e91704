import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFleetEmulator } from '@dynamite/fleet-emulator';
import { opt, startTestFleet, TestFleet } from './support';

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

/**
 * fleetctl restart (fleetctl/restart.go, v1.0.0) for a non-global unit in currentState launched: list the units,
 * GET the unit (lazyCreateUnits: it exists, so no PUT), then setUnitStateAndWait(loaded) and
 * setUnitStateAndWait(launched). Each PUTs the desired state and then waits for currentState **launched**
 * whatever it set (waitForState: a 250 ms ticker, GET /units/{name} at every tick, forever by default; the
 * first success also reads GET /machines for the "on <machine>" text). It completes only because currentState
 * trails the desired state: the first poll, 250 ms after `PUT loaded`, still sees launched.
 */
async function fleetctlRestart(fleet: TestFleet, name: string, giveUpMs: number): Promise<string[]> {
  const calls: string[] = [];
  const call = async (method: string, target: string, body?: unknown) => {
    const res = await fleet.request(method, target, body === undefined ? {} : { headers: [['Content-Type', 'application/json']], body: JSON.stringify(body) });
    calls.push(`${method} ${target} ${res.status}`);
    return res;
  };
  let machinesCached = false;
  const setUnitStateAndWait = async (state: string) => {
    assert.equal((await call('PUT', `/fleet/v1/units/${name}?alt=json`, { desiredState: state, name })).status, 204);
    const deadline = Date.now() + giveUpMs; // fleetctl itself would poll forever
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250)); // fleetctl's ticker, not a wait of the test
      const unit = (await call('GET', `/fleet/v1/units/${name}?alt=json`)).json();
      if (unit.currentState === 'launched') break;
      if (Date.now() > deadline) throw new Error(`fleetctl restart hangs: after PUT ${state}, currentState stays ${unit.currentState}; calls: ${calls.join(', ')}`);
    }
    if (!machinesCached) { await call('GET', '/fleet/v1/machines?alt=json'); machinesCached = true; }
  };

  const listed = (await call('GET', '/fleet/v1/units?alt=json')).json().units.find((u: any) => u.name === name);
  assert.equal((await call('GET', `/fleet/v1/units/${name}?alt=json`)).status, 200);
  assert.equal(listed.currentState, 'launched', 'the restart branch "stop and start it"');
  await setUnitStateAndWait('loaded');
  await setUnitStateAndWait('launched');
  return calls;
}

test('fleetctl restart against the default timing: both waits end, and the unit is stopped and started again', async () => {
  const fleet = new TestFleet(await startFleetEmulator({ stopTimeoutMs: 3000 }));
  try {
    assert.equal((await fleet.get('/emulator/passes')).json().agentLagMs, 1000);
    await fleet.put('restart.service', { desiredState: 'launched', options: HELLO });
    await fleet.waitForSubState('restart.service', 'active', 'running');
    const pidBefore = (await fleet.emulatorUnit('restart.service')).machines[0].pid;

    const calls = await fleetctlRestart(fleet, 'restart.service', 10_000);
    // The first poll after each PUT already sees launched.
    assert.deepEqual(calls, [
      'GET /fleet/v1/units?alt=json 200',
      'GET /fleet/v1/units/restart.service?alt=json 200',
      'PUT /fleet/v1/units/restart.service?alt=json 204',
      'GET /fleet/v1/units/restart.service?alt=json 200',
      'GET /fleet/v1/machines?alt=json 200',
      'PUT /fleet/v1/units/restart.service?alt=json 204',
      'GET /fleet/v1/units/restart.service?alt=json 200',
    ]);

    // The agents then act on both PUTs in order: the unit is stopped and started again.
    await fleet.waitForPasses(2);
    const restarted = await fleet.waitForSubState('restart.service', 'active', 'running');
    assert.equal((await fleet.unit('restart.service')).currentState, 'launched');
    assert.equal(restarted.systemdLoadState, 'loaded');
    const pidAfter = (await fleet.emulatorUnit('restart.service')).machines[0].pid;
    assert.notEqual(pidAfter, pidBefore);
    assert.equal((await fleet.journal('restart.service')).filter((line) => line.startsWith('Starting: ')).length, 2);
  } finally {
    await fleet.emulator.stop();
  }
});
