import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../support/ports';
import { opt, processAlive, startTestFleet, type TestFleet } from './support';

let fleet: TestFleet;
before(async () => { fleet = await startTestFleet(); });
after(async () => { await fleet.emulator.stop(); });

test('a template instance runs a real HTTP server on port %i, answers, and is gone after destroy', async () => {
  const port = await freePort();
  const server = `require('http').createServer((q, r) => r.end('hello from ' + process.argv[1])).listen(Number(process.argv[1]), '127.0.0.1')`;
  const template = [
    opt('Unit', 'Description', 'Web %i'),
    opt('Service', 'ExecStart', `${process.execPath} -e "${server}" %i`),
    opt('X-Fleet', 'Conflicts', 'web@*.service'),
  ];
  // fleetctl start web@PORT.service: GET (404), take the template, PUT the instance, PUT launched.
  assert.equal((await fleet.put('web@.service', { options: template })).status, 201);
  assert.equal(await fleet.unit(`web@${port}.service`), null);
  const fetched = await fleet.unit('web@.service');
  assert.equal((await fleet.put(`web@${port}.service`, { name: `web@${port}.service`, options: fetched.options })).status, 201);
  assert.equal((await fleet.put(`web@${port}.service`, { desiredState: 'launched', name: `web@${port}.service` })).status, 204);
  await fleet.waitForCurrentState(`web@${port}.service`, 'launched');
  await fleet.waitForSubState(`web@${port}.service`, 'active', 'running');

  const body = await fleet.waitFor('the HTTP answer', async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      return await res.text();
    } catch {
      return null;
    }
  });
  assert.equal(body, `hello from ${port}`);
  const pid = (await fleet.emulatorUnit(`web@${port}.service`)).machines[0].pid as number;
  assert.ok(processAlive(pid));
  // The template itself never runs.
  assert.equal((await fleet.states('?unitName=web%40.service')).length, 0);

  assert.equal((await fleet.del(`web@${port}.service`)).status, 204);
  await fleet.waitForNoState(`web@${port}.service`);
  assert.throws(() => process.kill(pid, 0));
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  await fleet.del('web@.service');
});
