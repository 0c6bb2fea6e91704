import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { serializeUnitOptions, unitHash } from '@dynamite/unit-files';
import { opt, processAlive, startTestFleet, type TestFleet } from './support';

let fleet: TestFleet;
let machineId: string;
let tmp: string;
before(async () => {
  fleet = await startTestFleet({ stopTimeoutMs: 1000 });
  machineId = fleet.emulator.machineIds[0];
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-emu-runtime-'));
});
after(async () => {
  await fleet.emulator.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const pidOf = async (name: string): Promise<number | null> => (await fleet.emulatorUnit(name))?.machines?.[0]?.pid ?? null;

test('case 27: desired loaded -> currentState loaded, machineID, loaded/inactive/dead with the unit hash, no process', async () => {
  const options = [opt('Service', 'ExecStart', `/bin/sh -c "touch ${tmp}/ran27"`)];
  await fleet.put('load27.service', { desiredState: 'loaded', options });
  const unit = await fleet.waitForCurrentState('load27.service', 'loaded');
  assert.equal(unit.machineID, machineId);
  const [state] = await fleet.states('?unitName=load27.service');
  assert.deepEqual(state, {
    hash: createHash('sha1').update(serializeUnitOptions(options)).digest('hex'),
    machineID: machineId,
    name: 'load27.service',
    systemdActiveState: 'inactive',
    systemdLoadState: 'loaded',
    systemdSubState: 'dead',
  });
  assert.equal(state.hash, unitHash(options));
  await fleet.waitForPasses(2);
  assert.equal(fs.existsSync(`${tmp}/ran27`), false);
  await fleet.del('load27.service');
});

test('case 28: launched -> active/running while the process lives; a non-zero exit is failed/failed and currentState stays launched', async () => {
  await fleet.put('run28.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', '/bin/sleep 600')] });
  await fleet.waitForCurrentState('run28.service', 'launched');
  await fleet.waitForSubState('run28.service', 'active', 'running');
  const pid = await pidOf('run28.service');
  assert.ok(pid && processAlive(pid));

  await fleet.put('fail28.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', '/bin/sh -c "sleep 0.2; exit 3"')] });
  await fleet.waitForSubState('fail28.service', 'failed', 'failed');
  assert.equal((await fleet.unit('fail28.service')).currentState, 'launched');
  assert.ok((await fleet.journal('fail28.service')).some((line) => line.includes('exited with status 3')));
  await fleet.del('fail28.service');

  // case 29: launched -> loaded stops the process: inactive/dead, currentState loaded, machineID kept.
  await fleet.put('run28.service', { desiredState: 'loaded' });
  await fleet.waitForSubState('run28.service', 'inactive', 'dead');
  const unit = await fleet.waitForCurrentState('run28.service', 'loaded');
  assert.equal(unit.machineID, machineId);
  assert.equal(processAlive(pid!), false);

  // case 30: inactive -> currentState inactive at once, no machineID, /state entry removed.
  await fleet.put('run28.service', { desiredState: 'launched' });
  await fleet.waitForSubState('run28.service', 'active', 'running');
  const pid2 = (await pidOf('run28.service'))!;
  assert.notEqual(pid2, pid);
  await fleet.put('run28.service', { desiredState: 'inactive' });
  const inactive = await fleet.unit('run28.service');
  assert.equal(inactive.currentState, 'inactive');
  assert.equal(inactive.machineID, undefined);
  await fleet.waitForNoState('run28.service');
  assert.equal(processAlive(pid2), false);

  // case 31: DELETE stops the process and removes the /state entry.
  await fleet.put('run28.service', { desiredState: 'launched' });
  await fleet.waitForSubState('run28.service', 'active', 'running');
  const pid3 = (await pidOf('run28.service'))!;
  assert.equal((await fleet.del('run28.service')).status, 204);
  assert.equal(await fleet.unit('run28.service'), null);
  await fleet.waitForNoState('run28.service');
  assert.equal(processAlive(pid3), false);
});

test('case 29: a process that ignores SIGTERM is killed after TimeoutStopSec; deactivating/stop-sigterm meanwhile', async () => {
  // The marker file tells the test the shell has installed its trap: a SIGTERM before that would simply kill it.
  const marker = path.join(tmp, 'stubborn-trapped');
  await fleet.put('stubborn.service', { desiredState: 'launched', options: [
    opt('Service', 'ExecStart', `/bin/sh -c "trap '' TERM; touch ${marker}; while true; do sleep 0.1; done"`),
    opt('Service', 'TimeoutStopSec', '1500ms'),
  ] });
  await fleet.waitForSubState('stubborn.service', 'active', 'running');
  const pid = (await pidOf('stubborn.service'))!;
  await fleet.waitFor('the unit to install its SIGTERM trap', async () => fs.existsSync(marker));
  await fleet.put('stubborn.service', { desiredState: 'loaded' });
  await fleet.waitForSubState('stubborn.service', 'deactivating', 'stop-sigterm');
  assert.equal(processAlive(pid), true);
  // After the timeout: SIGKILL. systemd calls the result a timeout, so the unit is failed.
  await fleet.waitForSubState('stubborn.service', 'failed', 'failed');
  assert.equal(processAlive(pid), false);
  await fleet.del('stubborn.service');
});

test('start-pre and auto-restart states; Restart=on-failure restarts; ExecStartPre "-" ignores failure', async () => {
  await fleet.put('pre.service', { desiredState: 'launched', options: [
    opt('Service', 'ExecStartPre', '-/bin/false'),
    opt('Service', 'ExecStartPre', '/bin/sleep 0.6'),
    opt('Service', 'ExecStart', '/bin/sleep 600'),
  ] });
  await fleet.waitForSubState('pre.service', 'activating', 'start-pre');
  await fleet.waitForSubState('pre.service', 'active', 'running');
  await fleet.del('pre.service');

  const marker = path.join(tmp, 'restarts');
  await fleet.put('crash.service', { desiredState: 'launched', options: [
    opt('Service', 'ExecStart', `/bin/sh -c "echo x >> ${marker}; sleep 0.2; exit 1"`),
    opt('Service', 'Restart', 'on-failure'),
    opt('Service', 'RestartSec', '400ms'),
  ] });
  await fleet.waitForSubState('crash.service', 'activating', 'auto-restart');
  await fleet.waitFor('a restart', async () => fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').split('\n').length > 2);
  await fleet.del('crash.service');
  await fleet.waitForNoState('crash.service');

  await fleet.put('prefail.service', { desiredState: 'launched', options: [
    opt('Service', 'ExecStartPre', '/bin/false'),
    opt('Service', 'ExecStart', `/bin/sh -c "touch ${tmp}/never"`),
  ] });
  await fleet.waitForSubState('prefail.service', 'failed', 'failed');
  assert.equal(fs.existsSync(`${tmp}/never`), false);
  await fleet.del('prefail.service');
});

test('Type=oneshot with RemainAfterExit is active/exited; without it the unit goes inactive/dead; ExecStopPost runs', async () => {
  await fleet.put('once.service', { desiredState: 'launched', options: [
    opt('Service', 'Type', 'oneshot'),
    opt('Service', 'RemainAfterExit', 'yes'),
    opt('Service', 'ExecStart', '/bin/true'),
    opt('Service', 'ExecStopPost', `/bin/sh -c "touch ${tmp}/stoppost"`),
  ] });
  await fleet.waitForSubState('once.service', 'active', 'exited');
  await fleet.put('once.service', { desiredState: 'loaded' });
  await fleet.waitForSubState('once.service', 'inactive', 'dead');
  assert.equal(fs.existsSync(`${tmp}/stoppost`), true);
  await fleet.del('once.service');

  await fleet.put('once2.service', { desiredState: 'launched', options: [opt('Service', 'Type', 'oneshot'), opt('Service', 'ExecStart', '/bin/true'), opt('Service', 'ExecStart', '/bin/true')] });
  await fleet.waitForCurrentState('once2.service', 'launched');
  await fleet.waitForSubState('once2.service', 'inactive', 'dead');
  await fleet.del('once2.service');
});

test('case 38: specifiers, environment, word splitting and PATH lookup in commands', async () => {
  const envFile = path.join(tmp, 'env');
  fs.writeFileSync(envFile, '# comment\nFROM_FILE="file value"\nWORDS=x y\n');
  await fleet.put('spec@a-b.service', { options: [
    opt('Service', 'Type', 'oneshot'),
    opt('Service', 'Environment', '"GREETING=hello world" SPLIT="1 2"'),
    opt('Service', 'EnvironmentFile', envFile),
    opt('Service', 'EnvironmentFile', '-/nonexistent/optional'),
    opt('Service', 'EnvironmentFile', '/nonexistent/required'),
    opt('Service', 'ExecStart', 'echo i=%i I=%I p=%p P=%P n=%n N=%N m=%m H=%H pct=%%'),
    opt('Service', 'ExecStart', 'printf "[%%s]" ${GREETING} $SPLIT ${FROM_FILE} $WORDS "quoted arg" \\x41'),
  ] });
  assert.equal((await fleet.put('spec@a-b.service', { desiredState: 'launched' })).status, 204);
  await fleet.waitForCurrentState('spec@a-b.service', 'launched');
  const lines = await fleet.waitFor('output', async () => {
    const all = await fleet.journal('spec@a-b.service');
    return all.some((l) => l.startsWith('[')) ? all : null;
  });
  assert.ok(lines.includes(`i=a-b I=a/b p=spec P=spec n=spec@a-b.service N=spec@a-b m=${machineId} H=${os.hostname()} pct=%`), lines.join('\n'));
  assert.ok(lines.includes('[hello world][1][2][file value][x][y][quoted arg][A]'), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('/nonexistent/required') && l.includes('continuing without it')));
  assert.ok(!lines.some((l) => l.includes('/nonexistent/optional')));
  await fleet.del('spec@a-b.service');
});

test('case 39: replacing the options of a launched unit restarts it with the new ExecStart; the /state hash changes', async () => {
  const v1 = [opt('Service', 'ExecStart', '/bin/sleep 601')];
  const v2 = [opt('Service', 'ExecStart', '/bin/sleep 602')];
  await fleet.put('repl39.service', { desiredState: 'launched', options: v1 });
  const s1 = await fleet.waitForSubState('repl39.service', 'active', 'running');
  assert.equal(s1.hash, unitHash(v1));
  const pid1 = (await pidOf('repl39.service'))!;
  assert.equal((await fleet.put('repl39.service', { options: v2 })).status, 201);
  await fleet.waitForNoState('repl39.service');
  assert.equal(processAlive(pid1), false);
  assert.equal((await fleet.put('repl39.service', { desiredState: 'launched' })).status, 204);
  const s2 = await fleet.waitForSubState('repl39.service', 'active', 'running');
  assert.equal(s2.hash, unitHash(v2));
  assert.ok((await fleet.journal('repl39.service')).some((l) => l.includes('/bin/sleep 602')));
  await fleet.del('repl39.service');
  await fleet.waitForNoState('repl39.service');
});

test('a missing program fails the unit with a journal line; non-service units stay loaded/inactive/dead', async () => {
  await fleet.put('missing.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', 'no-such-program-xyz --flag')] });
  await fleet.waitForSubState('missing.service', 'failed', 'failed');
  assert.ok((await fleet.journal('missing.service')).some((l) => l.includes('Failed to locate executable no-such-program-xyz')));
  await fleet.del('missing.service');

  await fleet.put('tick.timer', { desiredState: 'launched', options: [opt('Timer', 'OnCalendar', 'daily')] });
  await fleet.waitForCurrentState('tick.timer', 'launched');
  const [state] = await fleet.states('?unitName=tick.timer');
  assert.equal(`${state.systemdLoadState}/${state.systemdActiveState}/${state.systemdSubState}`, 'loaded/inactive/dead');
  await fleet.del('tick.timer');
});
