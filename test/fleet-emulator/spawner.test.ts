import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { opt, processRunning, processesRunning, startTestFleet, within, type TestFleet } from './support';

/**
 * Unit processes are started by the emulator's spawner process (a child that forks and execs, so the emulator's
 * event loop never waits for that): what the units report must still be what runs, when many start at once, when
 * a stop overtakes a start, and when the spawner itself dies.
 */

let fleet: TestFleet;
before(async () => {
  fleet = await startTestFleet({ stopTimeoutMs: 1000, tokenLimit: 1000 }); // one page of /state holds every unit
});
after(async () => {
  await fleet.emulator.stop();
});

/** The spawner: this process's child running spawner-process.js. */
function spawnerPids(): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('spawner-process.js') && processRunning(Number(entry))) pids.push(Number(entry));
    } catch { /* gone */ }
  }
  return pids;
}

const pidOf = async (name: string): Promise<number | null> => (await fleet.emulatorUnit(name))?.machines?.[0]?.pid ?? null;

test('200 units launched in one burst all run, each its own live process, and /state says so', async () => {
  const argv = ['/bin/sleep', `${7_000 + (process.pid % 1000)}`];
  const names = Array.from({ length: 200 }, (_, i) => `burst-${String(i).padStart(3, '0')}.service`);
  const puts = await Promise.all(names.map((name) => fleet.put(name, { desiredState: 'launched', options: [opt('Service', 'ExecStart', argv.join(' '))] })));
  assert.deepEqual(puts.map((r) => r.status), names.map(() => 201));
  await fleet.waitFor('200 units running', async () => {
    const running = (await fleet.states()).filter((s) => s.name.startsWith('burst-') && s.systemdSubState === 'running');
    return running.length === 200;
  }, 60_000);
  const pids = await Promise.all(names.map(pidOf));
  assert.equal(new Set(pids).size, 200);
  assert.deepEqual(processesRunning(argv).sort((a, b) => a - b), (pids as number[]).sort((a, b) => a - b));

  await Promise.all(names.map((name) => fleet.del(name)));
  await fleet.waitFor('no burst unit in /state', async () => !(await fleet.states()).some((s) => s.name.startsWith('burst-')), 60_000);
  assert.deepEqual(processesRunning(argv), []);
});

test('a stop asked for while the unit is being started leaves no process behind', async () => {
  const argv = ['/bin/sleep', `${8_000 + (process.pid % 1000)}`];
  const names = Array.from({ length: 20 }, (_, i) => `overtaken-${i}.service`);
  if (spawnerPids().length === 0) {
    await fleet.put('first.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', '/bin/true')] });
    await fleet.waitFor('a spawner', async () => spawnerPids().length === 1);
    await fleet.del('first.service');
  }
  const [spawner] = spawnerPids();
  for (const killMode of ['control-group', 'process']) {
    const options = [opt('Service', 'ExecStart', argv.join(' ')), opt('Service', 'KillMode', killMode)];
    // A stopped spawner holds the spawns: every stop comes while its unit's spawn is in flight.
    process.kill(spawner, 'SIGSTOP');
    try {
      await Promise.all(names.map((name) => fleet.put(name, { desiredState: 'launched', options })));
      await fleet.waitForPasses(2);
      await Promise.all(names.map((name) => fleet.put(name, { desiredState: 'loaded' })));
      await fleet.waitForPasses(2);
    } finally {
      process.kill(spawner, 'SIGCONT');
    }
    await fleet.waitFor('every overtaken unit loaded/inactive/dead', async () => {
      const states = (await fleet.states()).filter((s) => s.name.startsWith('overtaken-'));
      return states.length === names.length && states.every((s) => s.systemdSubState === 'dead');
    });
    await fleet.waitFor(`no process left (KillMode=${killMode})`, async () => processesRunning(argv).length === 0);
    await Promise.all(names.map((name) => fleet.del(name)));
    await fleet.waitFor('no overtaken unit in /state', async () => !(await fleet.states()).some((s) => s.name.startsWith('overtaken-')));
  }
});

test('the spawner killed: its units lose their processes and say so, and the next start gets a new spawner', async () => {
  await fleet.put('once.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', '/bin/sleep 600')] });
  await fleet.put('again.service', {
    desiredState: 'launched',
    options: [opt('Service', 'ExecStart', '/bin/sleep 600'), opt('Service', 'Restart', 'always'), opt('Service', 'RestartSec', '100ms')],
  });
  await fleet.waitForSubState('once.service', 'active', 'running');
  await fleet.waitForSubState('again.service', 'active', 'running');
  const oncePid = (await pidOf('once.service'))!;
  const againPid = (await pidOf('again.service'))!;
  const [spawner] = spawnerPids();
  assert.ok(spawner, 'a spawner process runs');

  process.kill(spawner, 'SIGKILL');
  await fleet.waitForSubState('once.service', 'failed', 'failed');
  assert.ok((await fleet.journal('once.service')).some((line) => line.includes("the emulator's spawner process exited")));
  await fleet.waitFor(`pid ${oncePid} gone`, async () => !processRunning(oncePid));
  await fleet.waitFor(`pid ${againPid} gone`, async () => !processRunning(againPid));

  // Restart=always starts it again, through a new spawner.
  await fleet.waitFor('again.service running a new process', async () => {
    const [state] = await fleet.states('?unitName=again.service');
    const pid = await pidOf('again.service');
    return state?.systemdSubState === 'running' && pid !== null && pid !== againPid && processRunning(pid);
  });
  assert.equal(spawnerPids().filter((pid) => pid !== spawner).length, 1);
  await fleet.del('once.service');
  await fleet.del('again.service');
});

test('a process that exits with units running: the spawner kills them and exits quietly', async () => {
  // The units write all the time: the spawner's reports of their output and exits find the channel closed.
  const script = `
    const { startFleetEmulator } = require(${JSON.stringify(require.resolve('@dynamite/fleet-emulator'))});
    (async () => {
      const emulator = await startFleetEmulator({ agentLagMs: 0 });
      const body = JSON.stringify({ desiredState: 'launched', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sh -c "while :; do echo up; sleep 0.01; done"' }] });
      await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(emulator.url + '/fleet/v1/units/exiting-' + i + '.service', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body })));
      for (;;) {
        const states = (await (await fetch(emulator.url + '/fleet/v1/state')).json()).states ?? [];
        if (states.filter((s) => s.systemdSubState === 'running').length === 20) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      process.stdout.write(require('node:child_process').execSync('pgrep -x node -P ' + process.pid).toString());
      process.exit(0);
    })();
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  // The spawner inherits the process's stderr: this pipe closes when both are gone.
  const stderrClosed = new Promise<void>((resolve) => child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); }).on('close', () => resolve()));
  await within(30_000, 'the process and its spawner gone', stderrClosed);
  assert.equal(stderr, '');
  const spawner = Number(stdout.trim());
  assert.ok(spawner > 0, `spawner pid printed: ${stdout}`);
  assert.equal(processRunning(spawner), false);
});
