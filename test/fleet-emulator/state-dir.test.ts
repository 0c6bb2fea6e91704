import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFleetEmulator, StateDirError } from '@dynamite/fleet-emulator';
import { opt, startTestFleet } from './support';

let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-emu-state-')); });
after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

test('a restarted emulator keeps units, desired states, metadata and machine ids, and relaunches launched units', async () => {
  const stateDir = path.join(dir, 'state');
  const marker = path.join(dir, 'starts');
  const first = await startTestFleet({ stateDir, machines: 2 });
  const ids = first.emulator.machineIds;
  await first.put('keep.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', `/bin/sh -c "echo start >> ${marker}; exec sleep 600"`)] });
  await first.put('loaded.service', { desiredState: 'loaded', options: [opt('Service', 'ExecStart', '/bin/sleep 600'), opt('Unit', 'Description', '  spaced  ')] });
  await first.put('idle.service', { options: [opt('Service', 'ExecStart', '/bin/sleep 600')] });
  await first.request('PATCH', '/fleet/v1/machines', { body: JSON.stringify([{ op: 'add', path: `/${ids[0]}/metadata/role`, value: { value: 'db' } }]) });
  await first.waitForSubState('keep.service', 'active', 'running');
  const pid = (await first.emulatorUnit('keep.service')).machines[0].pid as number;
  const unitsBefore = (await first.get('/fleet/v1/units')).json().units.map((u: any) => ({ name: u.name, desiredState: u.desiredState, options: u.options }));
  await first.emulator.stop();
  assert.throws(() => process.kill(pid, 0), 'the stop killed the unit');

  const second = await startTestFleet({ stateDir, machines: 2 });
  try {
    assert.deepEqual(second.emulator.machineIds, ids);
    const unitsAfter = (await second.get('/fleet/v1/units')).json().units.map((u: any) => ({ name: u.name, desiredState: u.desiredState, options: u.options }));
    assert.deepEqual(unitsAfter, unitsBefore);
    assert.deepEqual((await second.get('/fleet/v1/machines')).json().machines.find((m: any) => m.id === ids[0]).metadata, { role: 'db' });
    await second.waitForSubState('keep.service', 'active', 'running');
    await second.waitForCurrentState('loaded.service', 'loaded');
    assert.equal((await second.unit('idle.service')).currentState, 'inactive');
    assert.equal(fs.readFileSync(marker, 'utf8'), 'start\nstart\n');
    await second.del('keep.service');
  } finally {
    await second.emulator.stop();
  }
  const third = await startTestFleet({ stateDir, machines: 3 });
  try {
    assert.deepEqual(third.emulator.machineIds.slice(0, 2), ids, 'more machines keep the existing ids');
    assert.equal(await third.unit('keep.service'), null, 'the destroy was persisted');
  } finally {
    await third.emulator.stop();
  }
});

test('a corrupt state file is a clear error naming the file', async () => {
  const stateDir = path.join(dir, 'corrupt');
  fs.mkdirSync(stateDir);
  fs.writeFileSync(path.join(stateDir, 'fleet-emulator-state.json'), '{"version":1,"machines":["nothex"],"units":[],"metadata":{}}');
  await assert.rejects(startFleetEmulator({ stateDir }), (err: Error) => err instanceof StateDirError && err.message.includes('fleet-emulator-state.json') && err.message.includes('32-hex'));
  fs.writeFileSync(path.join(stateDir, 'fleet-emulator-state.json'), '{not json');
  await assert.rejects(startFleetEmulator({ stateDir }), (err: Error) => err instanceof StateDirError && err.message.includes('is not valid JSON'));
});

test('without a state dir the machine ids are stable and different per seed', async () => {
  const a = await startFleetEmulator({ machines: 2 });
  const b = await startFleetEmulator({ machines: 2 });
  const c = await startFleetEmulator({ machines: 1, machineSeed: 'other' });
  try {
    assert.deepEqual(a.machineIds, b.machineIds);
    assert.match(a.machineIds[0], /^[0-9a-f]{32}$/);
    assert.notEqual(c.machineIds[0], a.machineIds[0]);
  } finally {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
});
