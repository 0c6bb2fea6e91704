import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/ports';
import { main } from '@dynamite/cli';
import { DYNAMITE_BIN as BIN, opt, processAlive, processRunning, rawRequest, spawnEmulator, waitForLine, within } from './support';

let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-emu-cli-')); });
after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const put = (port: number, name: string, body: unknown) =>
  rawRequest(port, 'PUT', `/fleet/v1/units/${encodeURIComponent(name)}`, { headers: [['Content-Type', 'application/json']], body: JSON.stringify(body) });

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('dynamite fleet-emulator prints its URL, serves fleet, and leaves no unit process behind on SIGTERM', async () => {
  const port = await freePort();
  const childPidFile = path.join(dir, 'grandchild');
  const child = spawn(process.execPath, [BIN, 'fleet-emulator', '--listen', `127.0.0.1:${port}`, '--reconcile_interval', '50ms', '--stop_timeout', '2s', '--machines', '2', '--metadata', 'region=local,disk=ssd'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    assert.equal(await waitForLine(child, /^fleet emulator listening on /), `fleet emulator listening on http://127.0.0.1:${port}`);
    const machines = (await rawRequest(port, 'GET', '/fleet/v1/machines')).json().machines;
    assert.equal(machines.length, 2);
    assert.deepEqual(machines[0].metadata, { disk: 'ssd', region: 'local' });

    assert.equal((await put(port, 'plain.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', '/bin/sleep 600')] })).status, 201);
    assert.equal((await put(port, 'tree.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', `/bin/sh -c "sleep 601 & echo $! > ${childPidFile}; wait"`)] })).status, 201);
    const pids = new Map<string, number>();
    await waitUntil('both units running', async () => {
      for (const name of ['plain.service', 'tree.service']) {
        const res = await rawRequest(port, 'GET', `/emulator/units/${name}`);
        const pid = res.status === 200 ? res.json().machines?.[0]?.pid : null;
        if (pid) pids.set(name, pid);
      }
      return pids.size === 2 && fs.existsSync(childPidFile) && fs.readFileSync(childPidFile, 'utf8').trim() !== '';
    });
    const grandchild = Number(fs.readFileSync(childPidFile, 'utf8').trim());
    for (const pid of [...pids.values(), grandchild]) assert.ok(processAlive(pid), `pid ${pid} runs`);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (const pid of [...pids.values(), grandchild]) {
      await waitUntil(`pid ${pid} gone`, () => !processAlive(pid));
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('unit processes, and what they started, do not outlive an emulator that is SIGKILLed', async () => {
  const emulator = await spawnEmulator(await freePort(), ['--agent_lag', '0']);
  const { port } = emulator;
  const childPidFile = path.join(dir, 'orphan');
  const pids: number[] = [];
  try {
    assert.equal((await put(port, 'orphan.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', '/bin/sleep 600')] })).status, 201);
    assert.equal((await put(port, 'orphans.service', { desiredState: 'launched', options: [opt('Service', 'ExecStart', `/bin/sh -c "sleep 601 & echo $! > ${childPidFile}; wait"`)] })).status, 201);
    await waitUntil('both units running', async () => {
      pids.length = 0;
      for (const name of ['orphan.service', 'orphans.service']) {
        const res = await rawRequest(port, 'GET', `/emulator/units/${name}`);
        const pid = res.status === 200 ? res.json().machines?.[0]?.pid : null;
        if (pid) pids.push(pid);
      }
      return pids.length === 2 && fs.existsSync(childPidFile) && fs.readFileSync(childPidFile, 'utf8').trim() !== '';
    });
    pids.push(Number(fs.readFileSync(childPidFile, 'utf8').trim()));
    for (const pid of pids) assert.ok(processRunning(pid), `pid ${pid} runs`);
    // The emulator's spawner process (which started the units) goes too.
    const spawner = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).find((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === emulator.child.pid && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('spawner-process.js');
      } catch {
        return false;
      }
    });
    assert.ok(spawner !== undefined, 'the emulator has a spawner process');
    pids.push(spawner);

    emulator.child.kill('SIGKILL');
    assert.equal(await within(10_000, 'exit after SIGKILL', emulator.exited), 'SIGKILL');
    for (const pid of pids) await waitUntil(`pid ${pid} gone after the emulator was SIGKILLed`, () => !processRunning(pid), 10_000);
  } finally {
    if (emulator.child.exitCode === null && emulator.child.signalCode === null) emulator.child.kill('SIGKILL');
    for (const pid of pids) if (processRunning(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('--listen 0.0.0.0 with --allow_remote prints the address it really bound and warns that units run commands', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'fleet-emulator', '--listen', `0.0.0.0:${port}`, '--allow_remote'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  try {
    assert.equal(await waitForLine(child, /^fleet emulator listening on /), `fleet emulator listening on http://0.0.0.0:${port}`);
    assert.equal((await rawRequest(port, 'GET', '/fleet/v1/machines')).status, 200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(stderr.includes(`fleet emulator: WARNING: http://0.0.0.0:${port} is reachable from other hosts, and whoever reaches it runs commands here through unit files (ExecStart=)\n`), stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('dynamite fleet-emulator --help warns that it executes unit files', () => {
  const help = spawnSync(process.execPath, [BIN, 'fleet-emulator', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /EXECUTES THE COMMANDS OF THE UNIT FILES/);
  assert.match(help.stdout, /--state_dir/);
  assert.match(help.stdout, /--allow_remote/);
  assert.match(help.stdout, /--agent_lag/);
  const bad = spawnSync(process.execPath, [BIN, 'fleet-emulator', '--machines', '0'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'dynamite: --machines must be an integer between 1 and 1000, got "0"\n');
});

test('bad flags are one-line errors with exit status 2', async () => {
  const cases: Array<[string[], string]> = [
    [['--listen', 'nonsense'], '--listen must be host:port (e.g. 127.0.0.1:49153), got "nonsense"'],
    [['--listen', '127.0.0.1:70000'], '--listen port must be at most 65535, got 70000'],
    [['--listen', '0.0.0.0:49153'], 'refusing to listen on 0.0.0.0:49153: not a loopback address, and whoever can reach the emulator runs commands through unit files (ExecStart=); allow remote clients explicitly (--allow_remote, allowRemote) to serve it anyway'],
    [['--listen', '[::]:49153'], 'refusing to listen on [::]:49153: not a loopback address, and whoever can reach the emulator runs commands through unit files (ExecStart=); allow remote clients explicitly (--allow_remote, allowRemote) to serve it anyway'],
    [['--token_limit', 'x'], '--token_limit must be an integer between 1 and 65535, got "x"'],
    [['--metadata', 'region'], '--metadata must be k=v pairs separated by commas, got "region"'],
    [['--stop_timeout', 'soon'], '--stop_timeout must be a time span such as 5s, 500ms or 1min, got "soon"'],
  ];
  for (const [args, message] of cases) {
    let stderr = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => { stderr += chunk; return true; }) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(['fleet-emulator', ...args]);
    } finally {
      process.stderr.write = write;
    }
    assert.equal(code, 2, args.join(' '));
    assert.equal(stderr, `dynamite: ${message}\n`);
  }
});
