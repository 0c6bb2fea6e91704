/** The idempotent helpers the engine uses, against the fleet emulator over real HTTP. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { normalizeUnitOptions, parseUnitFile, unitHash } from '@dynamite/unit-files';
import { FleetArgumentError, FleetClient } from '@dynamite/fleet-client';
import { clientFor, emulatorStats, sleeper, startEmulator, type Emulator } from './emulator-control';

let emulator: Emulator;
let fleet: FleetClient;
const WAIT = { waitMs: 20_000 };

before(async () => {
  emulator = await startEmulator();
  fleet = clientFor(emulator);
});

after(async () => {
  for (const unit of await fleet.listUnits()) await fleet.destroyUnit(unit.name);
  fleet.close();
  await emulator.stop();
});

test('ensureLaunched creates and launches, and a second call does nothing', async () => {
  const first = await fleet.ensureLaunched('idem.service', sleeper('idem'), WAIT);
  assert.equal(first.action, 'created');
  assert.equal(first.unit.currentState, 'launched');
  const second = await fleet.ensureLaunched('idem.service', sleeper('idem'), WAIT);
  assert.equal(second.action, 'already');
  assert.equal(second.unit.machineID, first.unit.machineID);
  assert.equal(await fleet.ensureDestroyed('idem.service', WAIT), 'destroyed');
});

test('ensureLaunched replaces a unit whose options changed, then is idempotent again', async () => {
  await fleet.ensureLaunched('swap.service', sleeper('v1'), WAIT);
  const v2 = sleeper('v2');
  const replaced = await fleet.ensureLaunched('swap.service', v2, WAIT);
  assert.equal(replaced.action, 'replaced');
  assert.equal(replaced.unit.desiredState, 'launched');
  assert.equal((await fleet.getUnitState('swap.service'))?.hash, unitHash(normalizeUnitOptions(v2)));
  assert.equal((await fleet.ensureLaunched('swap.service', v2, WAIT)).action, 'already');
  await fleet.ensureDestroyed('swap.service', WAIT);
});

test('ensureLaunched starts an identical unit that is not desired launched', async () => {
  await fleet.putUnit('idle.service', { options: sleeper('idle') });
  assert.equal((await fleet.ensureLaunched('idle.service', sleeper('idle'), WAIT)).action, 'started');
  await fleet.ensureDestroyed('idle.service', WAIT);
});

test('Q15: unnormalized options (padding, interleaved sections) do not count as a change on the second call', async () => {
  const messy = [
    { section: 'Service', name: 'ExecStart', value: '  /bin/sleep 600  ' },
    { section: 'Unit', name: 'Description', value: 'messy ' },
    { section: 'Service', name: 'Environment', value: '' },
  ];
  assert.equal((await fleet.ensureLaunched('messy.service', messy, WAIT)).action, 'created');
  assert.equal((await fleet.ensureLaunched('messy.service', messy, WAIT)).action, 'already');
  await fleet.ensureDestroyed('messy.service', WAIT);
});

test('ensureDestroyed on an absent unit reports absent; on a launched one waits until GET is 404', async () => {
  assert.equal(await fleet.ensureDestroyed('never-was.service', WAIT), 'absent');
  await fleet.ensureLaunched('doomed.service', sleeper('doomed'), WAIT);
  assert.equal(await fleet.ensureDestroyed('doomed.service', WAIT), 'destroyed');
  assert.equal(await fleet.getUnit('doomed.service'), null);
});

test('the original\'s order for attached services: submit attached, submit parent, launch both, wait for all', async () => {
  const parent = 'app@8090.service';
  const attached = 'app_disc@8090.service';
  const attachedOptions = sleeper('discovery for %i', [{ section: 'X-Fleet', name: 'MachineOf', value: 'app@%i.service' }]);
  assert.equal(await fleet.ensureSubmitted(attached, attachedOptions), 'created');
  assert.equal(await fleet.ensureSubmitted(parent, sleeper('app %i')), 'created');
  assert.equal(await fleet.ensureSubmitted(parent, sleeper('app %i')), 'unchanged');
  assert.equal(await fleet.launch(parent), 'started');
  assert.equal(await fleet.launch(attached), 'started');
  assert.equal(await fleet.launch(attached), 'already');
  const units = await fleet.waitUntilLaunched([parent, attached], WAIT);
  assert.deepEqual(units.map((u) => [u.name, u.currentState]), [[parent, 'launched'], [attached, 'launched']]);
  assert.equal(units[1].machineID, units[0].machineID);
  assert.equal(await fleet.ensureSubmitted(parent, sleeper('app v2 %i')), 'replaced');
  assert.equal((await fleet.getUnit(parent))?.desiredState, 'inactive');
  await fleet.ensureDestroyed(attached, WAIT);
  await fleet.ensureDestroyed(parent, WAIT);
});

test('launching a template is refused before sending', async () => {
  await assert.rejects(fleet.ensureLaunched('web@.service', sleeper('t'), WAIT), FleetArgumentError);
  await assert.rejects(fleet.launch('web@.service'), /cannot launch template "web@.service"/);
});

test('unit-file round trip: a file from disk, launched, reads back normalized, and /state carries its hash', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-client-unit-'));
  const file = path.join(dir, 'roundtrip.service');
  fs.writeFileSync(file, [
    'This=Ignored before the first section',
    '[Service]',
    '# a comment',
    'ExecStart=/bin/sleep \\',
    '  600',
    '[Unit]',
    'Description=  round trip  ',
    '; another comment',
    '[Service]',
    'Environment=',
    'Restart=no\r', // CRLF is fine (but a CRLF line ending in \ is no continuation in go-systemd)
    '',
  ].join('\n'));
  const parsed = parseUnitFile(fs.readFileSync(file, 'utf8'));
  const { unit } = await fleet.ensureLaunched('roundtrip.service', parsed, WAIT);
  const normalized = normalizeUnitOptions(parsed);
  assert.deepEqual(unit.options, normalized);
  assert.deepEqual((await fleet.getUnit('roundtrip.service'))?.options, normalized);
  assert.deepEqual(normalized.map((o) => `${o.section}.${o.name}`), ['Service.ExecStart', 'Service.Environment', 'Service.Restart', 'Unit.Description']);
  assert.equal(normalized[3].value, 'round trip');
  const state = await fleet.getUnitState('roundtrip.service');
  assert.equal(state?.hash, unitHash(normalized));
  assert.equal(state?.hash, unitHash(unit.options));
  await fleet.ensureDestroyed('roundtrip.service', WAIT);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('submitAndLaunch: one PUT creates and starts; again it changes nothing; new options replace the unit', async () => {
  const requests = async () => ((await emulatorStats(emulator)) as { units: Record<string, Record<string, number>> }).units['one.service'] ?? {};
  assert.equal(await fleet.submitAndLaunch('one.service', sleeper('one')), 'created');
  assert.deepEqual(await requests(), { PUT: 1 }, 'a single request');
  const [launched] = await fleet.waitUntilLaunched(['one.service'], { ...WAIT, firstPollMs: 10 });
  assert.equal(await fleet.submitAndLaunch('one.service', sleeper('one')), 'unchanged');
  const again = await fleet.getUnit('one.service');
  assert.deepEqual([again!.desiredState, again!.currentState, again!.machineID], ['launched', 'launched', launched!.machineID]);
  assert.equal(await fleet.submitAndLaunch('one.service', sleeper('two')), 'created');
  const [replaced] = await fleet.waitUntilLaunched(['one.service'], WAIT);
  assert.equal(unitHash(replaced!.options), unitHash(normalizeUnitOptions(sleeper('two'))));
  await assert.rejects(fleet.submitAndLaunch('tpl@.service', sleeper('t')), FleetArgumentError);
  assert.equal(await fleet.ensureDestroyed('one.service', WAIT), 'destroyed');
});
