import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { opt, startTestFleet, type TestFleet } from './support';

// Scheduling is about the engine, so units are only `loaded` here unless processes matter.
const TRUE = opt('Service', 'ExecStart', '/bin/sleep 600');

async function cleanup(fleet: TestFleet): Promise<void> {
  const units = (await fleet.get('/fleet/v1/units')).json().units ?? [];
  for (const u of units) await fleet.del(u.name);
  await fleet.waitFor('no states', async () => (await fleet.states()).length === 0);
}

test.describe('one machine', () => {
  let fleet: TestFleet;
  before(async () => { fleet = await startTestFleet(); });
  after(async () => { await fleet.emulator.stop(); });
  afterEach(async () => { await cleanup(fleet); });

  test('case 32: Conflicts=web@*.service on one machine: one launches, the other waits; destroying the winner launches it', async () => {
    const template = [opt('Unit', 'Description', 'Web %i'), TRUE, opt('X-Fleet', 'Conflicts', 'web@*.service')];
    assert.equal((await fleet.put('web@8080.service', { desiredState: 'launched', options: template })).status, 201);
    assert.equal((await fleet.put('web@8081.service', { desiredState: 'launched', options: template })).status, 201);
    await fleet.waitForCurrentState('web@8080.service', 'launched');
    await fleet.waitForPasses(2);
    const loser = await fleet.unit('web@8081.service');
    assert.equal(loser.currentState, 'inactive');
    assert.equal(loser.desiredState, 'launched');
    assert.equal(loser.machineID, undefined);
    assert.deepEqual((await fleet.states()).map((s) => s.name), ['web@8080.service']);
    await fleet.del('web@8080.service');
    await fleet.waitForCurrentState('web@8081.service', 'launched');
  });

  test('Q7: units competing for one slot in the same engine pass: the lowest name wins', async () => {
    const id = fleet.emulator.machineIds[0];
    const options = [TRUE, opt('X-Fleet', 'Conflicts', 'race@*.service'), opt('X-Fleet', 'MachineMetadata', 'open=yes')];
    await fleet.put('race@2.service', { desiredState: 'loaded', options });
    await fleet.put('race@1.service', { desiredState: 'loaded', options });
    await fleet.waitForPasses(2);
    // Nothing can run until the metadata appears; then both compete in one pass.
    await fleet.request('PATCH', '/fleet/v1/machines', { body: JSON.stringify([{ op: 'add', path: `/${id}/metadata/open`, value: { value: 'yes' } }]) });
    await fleet.waitForCurrentState('race@1.service', 'loaded');
    await fleet.waitForPasses(2);
    assert.equal((await fleet.unit('race@2.service')).currentState, 'inactive');
    await fleet.request('PATCH', '/fleet/v1/machines', { body: JSON.stringify([{ op: 'remove', path: `/${id}/metadata/open` }]) });
  });

  test('case 33: the conflict check is symmetric; self-matching patterns are ignored', async () => {
    await fleet.put('a.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'Conflicts', 'b.service a.service')] });
    await fleet.waitForCurrentState('a.service', 'loaded');
    await fleet.put('b.service', { desiredState: 'loaded', options: [TRUE] });
    await fleet.waitForPasses(2);
    assert.equal((await fleet.unit('b.service')).currentState, 'inactive');
    await fleet.put('a.service', { desiredState: 'inactive' });
    await fleet.waitForCurrentState('b.service', 'loaded');
  });

  test('case 34: globs follow Go path.Match', async () => {
    await fleet.put('web@8081.service', { desiredState: 'loaded', options: [TRUE] });
    await fleet.waitForCurrentState('web@8081.service', 'loaded');
    await fleet.put('glob1.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'Conflicts', 'web@80[0-9]?.service')] });
    await fleet.put('glob2.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'Conflicts', '*')] });
    await fleet.put('glob3.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'Conflicts', '[')] });
    await fleet.waitForCurrentState('glob3.service', 'loaded');
    await fleet.waitForPasses(2);
    assert.equal((await fleet.unit('glob1.service')).currentState, 'inactive');
    // `*` matches every other unit name (there is no `/` in them), so glob2 cannot join.
    assert.equal((await fleet.unit('glob2.service')).currentState, 'inactive');
  });

  test('case 35: MachineID: unknown id never scheduled; the full id or its 8-character prefix is', async () => {
    const id = fleet.emulator.machineIds[0];
    await fleet.put('unknown-id.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'MachineID', 'ffffffffffffffffffffffffffffffff')] });
    await fleet.put('full-id.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'MachineID', id)] });
    await fleet.put('short-id.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'MachineID', id.slice(0, 8))] });
    assert.equal((await fleet.waitForCurrentState('full-id.service', 'loaded')).machineID, id);
    assert.equal((await fleet.waitForCurrentState('short-id.service', 'loaded')).machineID, id);
    await fleet.waitForPasses(2);
    assert.equal((await fleet.unit('unknown-id.service')).currentState, 'inactive');
  });

  test('MachineOf: a follower needs its peer on the machine', async () => {
    await fleet.put('follower.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'MachineOf', 'leader.service')] });
    await fleet.waitForPasses(2);
    assert.equal((await fleet.unit('follower.service')).currentState, 'inactive');
    await fleet.put('leader.service', { desiredState: 'loaded', options: [TRUE] });
    await fleet.waitForCurrentState('follower.service', 'loaded');
    await fleet.del('leader.service');
    await fleet.waitForCurrentState('follower.service', 'inactive');
  });

  test('Replaces: the replaced unit is unscheduled from the machine', async () => {
    await fleet.put('old.service', { desiredState: 'loaded', options: [TRUE] });
    await fleet.waitForCurrentState('old.service', 'loaded');
    await fleet.put('new.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'Replaces', 'old.service')] });
    await fleet.waitForCurrentState('new.service', 'loaded');
    await fleet.waitForCurrentState('old.service', 'inactive');
  });
});

test.describe('three machines', () => {
  let fleet: TestFleet;
  let ids: string[];
  before(async () => {
    fleet = await startTestFleet({ machines: 3 });
    ids = [...fleet.emulator.machineIds].sort();
  });
  after(async () => { await fleet.emulator.stop(); });
  afterEach(async () => {
    await cleanup(fleet);
    await fleet.request('PATCH', '/fleet/v1/machines', { body: JSON.stringify(ids.flatMap((id) => ['role', 'disk'].map((k) => ({ op: 'remove', path: `/${id}/metadata/${k}` })))) });
  });

  test('fleet functional test: 5 mutually conflicting units on 3 machines give 3 units on 3 different machines', async () => {
    for (let i = 1; i <= 5; i++) await fleet.put(`conflict.${i}.service`, { desiredState: 'launched', options: [TRUE, opt('X-Fleet', 'Conflicts', 'conflict.*.service')] });
    const launched = await fleet.waitFor('3 launched', async () => {
      const units = (await fleet.get('/fleet/v1/units')).json().units;
      const up = units.filter((u: any) => u.currentState === 'launched');
      return up.length === 3 ? up : null;
    });
    await fleet.waitForPasses(2);
    assert.deepEqual(launched.map((u: any) => u.name), ['conflict.1.service', 'conflict.2.service', 'conflict.3.service']);
    assert.equal(new Set(launched.map((u: any) => u.machineID)).size, 3);
    assert.equal((await fleet.get('/fleet/v1/units')).json().units.filter((u: any) => u.currentState === 'launched').length, 3);
  });

  test('least loaded first, then lowest machine id', async () => {
    for (const name of ['l1.service', 'l2.service', 'l3.service', 'l4.service']) await fleet.put(name, { desiredState: 'loaded', options: [TRUE] });
    const machines = await fleet.waitFor('4 loaded', async () => {
      const units = (await fleet.get('/fleet/v1/units')).json().units;
      return units.every((u: any) => u.currentState === 'loaded') ? units.map((u: any) => u.machineID) : null;
    });
    assert.deepEqual(machines, [ids[0], ids[1], ids[2], ids[0]]);
  });

  test('case 36: MachineMetadata is AND across keys, OR within; PATCH reschedules', async () => {
    const patch = (ops: unknown[]) => fleet.request('PATCH', '/fleet/v1/machines', { body: JSON.stringify(ops) });
    await patch([
      { op: 'add', path: `/${ids[1]}/metadata/role`, value: { value: 'web' } },
      { op: 'add', path: `/${ids[1]}/metadata/disk`, value: { value: 'hdd' } },
      { op: 'add', path: `/${ids[2]}/metadata/role`, value: { value: 'web' } },
      { op: 'add', path: `/${ids[2]}/metadata/disk`, value: { value: 'ssd' } },
    ]);
    await fleet.put('md.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'MachineMetadata', '"role=web" "disk=ssd"')] });
    assert.equal((await fleet.waitForCurrentState('md.service', 'loaded')).machineID, ids[2]);
    await fleet.put('md-or.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'MachineMetadata', 'disk=ssd'), opt('X-Fleet', 'MachineMetadata', 'disk=hdd')] });
    assert.equal((await fleet.waitForCurrentState('md-or.service', 'loaded')).machineID, ids[1]);

    // Metadata changes move the unit: ssd goes to ids[0] and leaves ids[2].
    await patch([
      { op: 'remove', path: `/${ids[2]}/metadata/disk` },
      { op: 'add', path: `/${ids[0]}/metadata/role`, value: { value: 'web' } },
      { op: 'add', path: `/${ids[0]}/metadata/disk`, value: { value: 'ssd' } },
    ]);
    await fleet.waitFor('md.service moved', async () => (await fleet.unit('md.service')).machineID === ids[0]);
    await fleet.waitForCurrentState('md.service', 'loaded');
    // No machine matches any more: unscheduled.
    await patch([{ op: 'remove', path: `/${ids[0]}/metadata/disk` }]);
    await fleet.waitForCurrentState('md.service', 'inactive');
    assert.equal((await fleet.unit('md.service')).machineID, undefined);
  });

  test('case 37: Global=true runs on every matching machine, one /state entry each; conflicting machines are skipped', async () => {
    await fleet.put('solo.service', { desiredState: 'loaded', options: [TRUE, opt('X-Fleet', 'MachineID', ids[1])] });
    await fleet.waitForCurrentState('solo.service', 'loaded');
    await fleet.put('everywhere.service', { desiredState: 'launched', options: [
      opt('Service', 'ExecStart', '/bin/sleep 600'),
      opt('X-Fleet', 'Global', 'true'),
      opt('X-Fleet', 'Conflicts', 'solo.service'),
    ] });
    const states = await fleet.waitFor('2 global states running', async () => {
      const s = await fleet.states('?unitName=everywhere.service');
      return s.length === 2 && s.every((x: any) => x.systemdSubState === 'running') ? s : null;
    });
    assert.deepEqual(states.map((s: any) => s.machineID), [ids[0], ids[2]]);
    const get = await fleet.unit('everywhere.service');
    assert.equal(get.currentState, undefined);
    assert.equal(get.machineID, undefined);
    const pids = await Promise.all([ids[0], ids[2]].map(async (id) => (await fleet.emulatorUnit('everywhere.service')).machines.find((m: any) => m.machineID === id).pid));
    assert.equal(new Set(pids).size, 2);
  });
});
