/** The raw calls against the fleet emulator over real HTTP (spec §10 cases 26, 41, 42, 44, 45). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { unitHash } from '@dynamite/unit-files';
import { FleetApiError, FleetArgumentError, FleetClient, FleetTimeoutError } from '@dynamite/fleet-client';
import { clientFor, resetStats, setNotReady, sleeper, startEmulator, waitForAnswers, type Emulator } from './emulator-control';

let emulator: Emulator;
let fleet: FleetClient;

before(async () => {
  emulator = await startEmulator({ tokenLimit: 2 });
  fleet = clientFor(emulator);
});

after(async () => {
  for (const unit of await fleet.listUnits()) await fleet.destroyUnit(unit.name);
  fleet.close();
  await emulator.stop();
});

test('case 26: listUnits follows every page (token limit 2), sorted by name, also when the count is a multiple of 2', async () => {
  const names = ['list-e.service', 'list-a.service', 'list-c.service', 'list-b.service', 'list-d.service'];
  for (const name of names) await fleet.putUnit(name, { options: sleeper(name) });
  const listed = (await fleet.listUnits()).map((u) => u.name).filter((n) => n.startsWith('list-'));
  assert.deepEqual(listed, [...names].sort());
  await fleet.destroyUnit('list-e.service');
  assert.equal((await fleet.listUnits()).filter((u) => u.name.startsWith('list-')).length, 4);
  for (const name of names) await fleet.destroyUnit(name);
});

test('case 26: listUnitStates pages with its filters kept; listMachines reads the machine', async () => {
  const names = ['state-a.service', 'state-b.service', 'state-c.service'];
  for (const name of names) await fleet.putUnit(name, { desiredState: 'loaded', options: sleeper(name) });
  await Promise.all(names.map((name) => fleet.waitForState(name, 'loaded', { waitMs: 20_000 })));
  const [machine] = await fleet.listMachines();
  assert.match(machine.id, /^[0-9a-f]{32}$/);

  const all = (await fleet.listUnitStates()).filter((s) => s.name.startsWith('state-'));
  assert.deepEqual(all.map((s) => s.name), names);
  assert.ok(all.every((s) => s.machineID === machine.id && s.systemdLoadState === 'loaded'));
  const onMachine = (await fleet.listUnitStates({ machineID: machine.id })).filter((s) => s.name.startsWith('state-'));
  assert.equal(onMachine.length, 3);
  assert.deepEqual((await fleet.listUnitStates({ unitName: 'state-b.service' })).map((s) => s.name), ['state-b.service']);
  assert.deepEqual(await fleet.listUnitStates({ machineID: 'f'.repeat(32) }), []);
  for (const name of names) await fleet.destroyUnit(name);
});

test('case 41: PUT reports 201 as created (create and replace) and 204 as updated', async () => {
  const name = 'put41.service';
  assert.deepEqual(await fleet.putUnit(name, { options: sleeper('v1') }), { status: 'created' });
  assert.deepEqual(await fleet.putUnit(name, { desiredState: 'loaded', options: sleeper('v1') }), { status: 'updated' });
  assert.deepEqual(await fleet.setDesiredState(name, 'inactive'), { status: 'updated' });
  assert.deepEqual(await fleet.putUnit(name, { options: sleeper('v2') }), { status: 'created' });
  const unit = await fleet.getUnit(name);
  assert.equal(unit?.options[0].value, 'v2');
  assert.equal(unit?.desiredState, 'inactive');
  assert.equal(unit?.currentState, 'inactive');
  assert.equal(unit?.machineID, '');
  assert.equal(await fleet.destroyUnit(name), 'destroyed');
  assert.equal(await fleet.destroyUnit(name), 'absent');
});

test('case 42: getUnit and getUnitState map 404 to null', async () => {
  assert.equal(await fleet.getUnit('missing.service'), null);
  assert.equal(await fleet.getUnitState('missing.service'), null);
  await fleet.putUnit('nostate.service', { options: sleeper('never scheduled') });
  assert.equal(await fleet.getUnitState('nostate.service'), null);
  await fleet.destroyUnit('nostate.service');
});

test('case 42: a 503 (fleet not connected to etcd) is retried until fleet is ready', async () => {
  await setNotReady(emulator, true);
  await resetStats(emulator);
  const patient = clientFor(emulator, { retry: { attempts: 50, baseDelayMs: 20, maxDelayMs: 100, maxTotalMs: 20_000 } });
  try {
    const listing = patient.listMachines();
    // Fleet becomes ready once the client has been refused and has retried.
    await waitForAnswers(emulator, 503, 2);
    await setNotReady(emulator, false);
    assert.ok((await listing).length >= 1);
  } finally {
    patient.close();
    await setNotReady(emulator, false);
  }
});

test('case 42: when fleet stays unready the 503 surfaces as a retryable FleetApiError after the budget', async () => {
  await setNotReady(emulator, true);
  const quick = clientFor(emulator, { retry: { attempts: 3 } });
  try {
    await assert.rejects(quick.listMachines(), (err: unknown) =>
      err instanceof FleetApiError && err.status === 503 && err.code === 503 && err.retryable && err.attempts === 3 &&
      err.fleetMessage === 'fleet server unable to communicate with etcd');
    await assert.rejects(quick.ping(), (err: unknown) => err instanceof FleetApiError && err.status === 503 && err.attempts === 1);
  } finally {
    quick.close();
    await setNotReady(emulator, false);
  }
  await fleet.ping();
});

test('no retry on 409 and 400: fleet\'s code and message are carried', async () => {
  await assert.rejects(fleet.setDesiredState('web@7070.service', 'launched'), (err: unknown) =>
    err instanceof FleetApiError && err.status === 409 && err.attempts === 1 && !err.retryable &&
    err.message === 'PUT /fleet/v1/units/web%407070.service: 409 unit does not exist and options field empty');
  await fleet.putUnit('tpl@.service', { options: sleeper('template %i') });
  await assert.rejects(fleet.setDesiredState('tpl@.service', 'launched'), (err: unknown) =>
    err instanceof FleetApiError && err.status === 400 && err.attempts === 1 && err.fleetMessage === 'cannot activate template "tpl@.service"');
  await fleet.destroyUnit('tpl@.service');
});

test('case 44: instantiate GETs the template and PUTs web@8080.service with identical options', async () => {
  const template = sleeper('Web %i', [{ section: 'X-Fleet', name: 'Conflicts', value: 'web@*.service' }]);
  await fleet.putUnit('web@.service', { options: template });
  assert.deepEqual(await fleet.instantiate('web@.service', 8080), { name: 'web@8080.service', status: 'created' });
  const instance = await fleet.getUnit('web@8080.service');
  assert.deepEqual(instance?.options, (await fleet.getUnit('web@.service'))?.options);
  assert.equal(instance?.desiredState, 'inactive');
  assert.deepEqual(await fleet.instantiate('web@.service', '8080'), { name: 'web@8080.service', status: 'unchanged' });
  await assert.rejects(fleet.instantiate('nope@.service', 1), (err: unknown) => err instanceof FleetApiError && err.status === 404);
  await assert.rejects(fleet.instantiate('web.service', 1), FleetArgumentError);
  await fleet.destroyUnit('web@8080.service');
  await fleet.destroyUnit('web@.service');
});

test('case 45: waitForState uses currentState, and with active waits for systemd active', async () => {
  await fleet.putUnit('wait45.service', { desiredState: 'launched', options: sleeper('wait 45') });
  const unit = await fleet.waitForState('wait45.service', 'launched', { active: true, waitMs: 20_000 });
  assert.equal(unit.currentState, 'launched');
  assert.match(unit.machineID, /^[0-9a-f]{32}$/);
  const state = await fleet.getUnitState('wait45.service');
  assert.equal(state?.systemdActiveState, 'active');
  assert.equal(state?.hash, unitHash(unit.options));
  await fleet.setDesiredState('wait45.service', 'loaded');
  assert.equal((await fleet.waitForState('wait45.service', 'loaded', { waitMs: 20_000 })).currentState, 'loaded');
  await fleet.destroyUnit('wait45.service');
});

test('case 45: a global unit is waited on by desiredState (it has no currentState on GET)', async () => {
  const options = sleeper('global', [{ section: 'X-Fleet', name: 'Global', value: 'true' }]);
  await fleet.putUnit('global45.service', { desiredState: 'launched', options });
  const unit = await fleet.waitForState('global45.service', 'launched', { waitMs: 5_000 });
  assert.equal(unit.currentState, '');
  assert.equal(unit.desiredState, 'launched');
  await fleet.destroyUnit('global45.service');
});

test('case 45: a wait for a unit that cannot be scheduled gives up with what it last saw', async () => {
  await fleet.putUnit('stuck.service', { desiredState: 'launched', options: sleeper('stuck', [{ section: 'X-Fleet', name: 'MachineID', value: '0'.repeat(32) }]) });
  await assert.rejects(fleet.waitForState('stuck.service', 'launched', { waitMs: 600, pollMs: 100 }), (err: unknown) =>
    err instanceof FleetTimeoutError && err.units[0] === 'stuck.service' &&
    err.message === 'stuck.service did not reach state "launched" within 600 ms (last seen: stuck.service: currentState "inactive", desiredState "launched", not scheduled)');
  await fleet.destroyUnit('stuck.service');
});

test('machine metadata: PATCH add then remove, read back through listMachines', async () => {
  const [machine] = await fleet.listMachines();
  await fleet.patchMachineMetadata([{ op: 'add', path: `/${machine.id}/metadata/role`, value: { value: 'web' } }]);
  assert.equal((await fleet.listMachines())[0].metadata.role, 'web');
  await fleet.patchMachineMetadata([{ op: 'remove', path: `/${machine.id}/metadata/role` }]);
  assert.equal((await fleet.listMachines())[0].metadata.role, undefined);
  await assert.rejects(fleet.patchMachineMetadata([{ op: 'add', path: `/${machine.id}/role`, value: { value: 'x' } }]), (err: unknown) =>
    err instanceof FleetApiError && err.status === 400 && err.fleetMessage === 'machine metadata path invalid');
});

test('discovery is fleet:v1 with $ENDPOINT replaced; ping succeeds', async () => {
  const doc = await fleet.discovery();
  assert.equal(doc.id, 'fleet:v1');
  assert.equal(doc.rootUrl, `${fleet.endpoint.url}/`);
  await fleet.ping();
});
