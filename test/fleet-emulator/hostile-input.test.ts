/** Input meant to hurt the emulator (issue "Never fooled", item 7). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../support/ports';
import { rawRequest, spawnEmulator, within } from './support';

const json = (body: unknown): { headers: Array<[string, string]>; body: string } => ({ headers: [['Content-Type', 'application/json']], body: JSON.stringify(body) });

test('a fault path pattern with catastrophic backtracking cannot hang the emulator: it keeps answering and stops on SIGTERM', async () => {
  const emulator = await spawnEmulator(await freePort(), ['--agent_lag', '0']);
  const { port } = emulator;
  try {
    const pattern = '^/fleet/v1/units/(a+)+$';
    const set = await rawRequest(port, 'POST', '/emulator/faults', json({ errorRate: 1, path: pattern }));
    assert.equal(set.status, 200, set.body);
    // A backtracking engine tries 2^40 ways to split the a's before it gives up on the "!".
    const evil = await within(10_000, 'GET of a path the pattern backtracks on', rawRequest(port, 'GET', `/fleet/v1/units/${'a'.repeat(40)}!.service`));
    assert.equal(evil.body, '{"error":{"code":404,"message":"unit does not exist"}}');
    // The pattern is in force where it matches, and the control API still answers.
    assert.equal((await within(10_000, 'GET of a matching path', rawRequest(port, 'GET', `/fleet/v1/units/${'a'.repeat(40)}`))).header('X-Emulator-Fault'), 'error');
    assert.deepEqual((await within(10_000, 'GET /emulator/faults', rawRequest(port, 'GET', '/emulator/faults'))).json(), { errorRate: 1, path: pattern });
    emulator.child.kill('SIGTERM');
    assert.equal(await within(10_000, 'exit after SIGTERM', emulator.exited), 0);
  } finally {
    if (emulator.child.exitCode === null) emulator.child.kill('SIGKILL');
  }
});

test('fault path patterns that need backtracking (backreferences, lookaround) are refused with a 400 naming the pattern', async () => {
  const emulator = await spawnEmulator(await freePort(), ['--agent_lag', '0']);
  try {
    const cases: Array<[string, string]> = [
      ['^/fleet/v1/units/(a)\\1', 'path is not a valid regular expression (RE2 syntax: no backreferences or lookaround): "^/fleet/v1/units/(a)\\\\1": error parsing regexp: invalid escape sequence: `\\1`'],
      ['^/fleet/v1/(?=units)', 'path is not a valid regular expression (RE2 syntax: no backreferences or lookaround): "^/fleet/v1/(?=units)": error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
      ['x'.repeat(1025), 'path is longer than 1024 characters'],
    ];
    for (const [path, message] of cases) {
      const res = await rawRequest(emulator.port, 'POST', '/emulator/faults', json({ errorRate: 1, path }));
      assert.equal(res.status, 400);
      assert.deepEqual(res.json(), { error: { code: 400, message } });
    }
    assert.deepEqual((await rawRequest(emulator.port, 'GET', '/emulator/faults')).json(), {}, 'nothing was installed');
    emulator.child.kill('SIGTERM');
    assert.equal(await within(10_000, 'exit after SIGTERM', emulator.exited), 0);
  } finally {
    if (emulator.child.exitCode === null) emulator.child.kill('SIGKILL');
  }
});
