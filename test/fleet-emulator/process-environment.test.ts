import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processEnvironment, specifierContext, workingDirectory, type UserInfo } from '@dynamite/fleet-emulator';

const USER: UserInfo = { username: 'core', uid: 500, homedir: '/home/core', shell: '/bin/bash' };
const HOST = { PATH: '/opt/bin:/usr/bin', LANG: 'en_US.UTF-8', SECRET: 'not for units', XDG_RUNTIME_DIR: '/run/user/500' };

let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-emu-env-')); });
after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function collect(): { warnings: string[]; warn: (m: string) => void } {
  const warnings: string[] = [];
  return { warnings, warn: (m) => warnings.push(m) };
}

test('the base environment is systemd-like: PATH and LANG from the host, the user\'s HOME, USER, LOGNAME, SHELL, nothing else', () => {
  const { warnings, warn } = collect();
  assert.deepEqual(processEnvironment({ environment: [], environmentFiles: [] }, { hostEnv: HOST, user: USER, warn }), {
    PATH: '/opt/bin:/usr/bin', LANG: 'en_US.UTF-8', HOME: '/home/core', USER: 'core', LOGNAME: 'core', SHELL: '/bin/bash',
  });
  // Defaults when the host has neither; TZ and TMPDIR pass through only when set.
  assert.deepEqual(processEnvironment({ environment: [], environmentFiles: [] }, { hostEnv: { TZ: 'UTC', TMPDIR: '/var/tmp' }, user: { ...USER, shell: null }, warn }), {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/home/core', USER: 'core', LOGNAME: 'core', SHELL: '/bin/sh',
    TZ: 'UTC', TMPDIR: '/var/tmp',
  });
  assert.deepEqual(warnings, []);
});

test('Environment= overrides the base; EnvironmentFile= (in order, read at each call) overrides Environment=', () => {
  const first = path.join(dir, 'first.env');
  const second = path.join(dir, 'second.env');
  fs.writeFileSync(first, '# comment\nA=from-first\nB="quoted value"\n');
  fs.writeFileSync(second, 'B=from-second\n');
  const config = {
    environment: [['PATH', '/custom'], ['A', 'from-environment'], ['C', 'kept']] as Array<[string, string]>,
    environmentFiles: [{ path: first, optional: false }, { path: second, optional: false }],
  };
  const { warnings, warn } = collect();
  const env = processEnvironment(config, { hostEnv: HOST, user: USER, warn });
  assert.deepEqual([env.PATH, env.A, env.B, env.C], ['/custom', 'from-first', 'from-second', 'kept']);
  fs.writeFileSync(second, 'B=changed\n');
  assert.equal(processEnvironment(config, { hostEnv: HOST, user: USER, warn }).B, 'changed');
  assert.deepEqual(warnings, []);
});

test('a missing EnvironmentFile= warns and is skipped (deviation 19); with "-" it is skipped silently', () => {
  const missing = path.join(dir, 'missing.env');
  const { warnings, warn } = collect();
  const env = processEnvironment({ environment: [['A', '1']], environmentFiles: [{ path: missing, optional: false }, { path: `${missing}.2`, optional: true }] }, { hostEnv: HOST, user: USER, warn });
  assert.equal(env.A, '1');
  assert.deepEqual(warnings, [`Failed to load environment file ${missing}: ENOENT; continuing without it`]);
});

test('WorkingDirectory=: / when unset, ~ is home, relative to /, "-" falls back to /, a missing one fails the start', () => {
  const { warnings, warn } = collect();
  const home = { ...USER, homedir: dir };
  assert.equal(workingDirectory({ workingDirectory: null }, { user: home, warn }), '/');
  assert.equal(workingDirectory({ workingDirectory: { path: '~', optional: false } }, { user: home, warn }), dir);
  assert.equal(workingDirectory({ workingDirectory: { path: dir.slice(1), optional: false } }, { user: home, warn }), dir);
  assert.equal(workingDirectory({ workingDirectory: { path: `${dir}/nope`, optional: true } }, { user: home, warn }), '/');
  assert.deepEqual(warnings, []);
  assert.equal(workingDirectory({ workingDirectory: { path: `${dir}/nope`, optional: false } }, { user: home, warn }), null);
  assert.deepEqual(warnings, [`Changing to the requested working directory ${dir}/nope failed: No such file or directory`]);
});

test('specifier values: the unit, the simulated machine, the user, and %t from XDG_RUNTIME_DIR (else /run)', () => {
  const unit = { unitName: 'web@80.service', machineId: 'a'.repeat(32), hostname: 'host', bootId: 'b'.repeat(32) };
  assert.deepEqual(specifierContext(unit, USER, HOST), { ...unit, userName: 'core', uid: 500, home: '/home/core', runtimeDir: '/run/user/500' });
  assert.equal(specifierContext(unit, USER, {}).runtimeDir, '/run');
});
