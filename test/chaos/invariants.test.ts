import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { keys } from '@dynamite/domain';
import { startFleetEmulator, type FleetEmulator } from '@dynamite/fleet-emulator';
import { FleetClient } from '@dynamite/fleet-client';
import { waitFor } from '../support/engine-harness';
import { EtcdServer } from '../support/etcd';
import { InvariantChecker } from './invariants';

// The chaos run is only as good as its checks: each is made to fail here on records and units written by hand to
// a real etcd and emulator, next to a scale up committed the way the engine commits it, which passes.
let server: EtcdServer;
let etcd: Etcd3;
let emulator: FleetEmulator;
let fleet: FleetClient;
let checker: InvariantChecker;

before(async () => {
  server = await EtcdServer.start();
  etcd = new Etcd3({ hosts: [server.url] });
  emulator = await startFleetEmulator({ port: 0, agentLagMs: 0 });
  fleet = new FleetClient({ endpoint: emulator.url });
  const rev = String((await etcd.put('/chaos/started').value('x').exec()).header.revision);
  checker = new InvariantChecker(etcd, emulator.url, () => 0, 500);
  await checker.start(rev);
});
after(async () => {
  await checker.stop();
  etcd.close();
  await emulator.stop();
  await server.stop();
});

const instance = (name: string, state: string, decisionId: string | null) => JSON.stringify({ name, state, attached_services: [], port: Number(name.slice(4, 8)), created_at: 1, decision_id: decisionId, origin: 'decision' });
const action = (decisionId: string, kind: string, inst: string, status = 'pending') => JSON.stringify({ decisionId, service: 'api', kind, instance: inst, attached: [], reason: 'api_up', status, createdAt: 1, dueAt: null, finishedAt: null, attempts: 0, error: null, result: null });
const decision = (id: string, kind: string, inst: string) => JSON.stringify({ id, at: 1, service: 'api', policy: 'api_up', machine: '_aggregate', direction: 'up', outcome: 'scaled', reason: 'api_up', rule: null, inputs: {}, action: { kind, instance: inst, attached: [] }, message: 'm' });
const machine = (cursor: string, lastSeenTs: number) => JSON.stringify({ state: { lastSeenKey: String(lastSeenTs), lastSeenTs, armed: null, cooldownNotedUntil: null }, cursor, updatedAt: Date.now() });
const violations = (check: string) => checker.violations.filter((v) => v.check === check).map((v) => v.detail);

test('a scale up committed as the engine commits it (decision, action and instance in one transaction) passes', async () => {
  await etcd.if(keys.action('api', 'd1'), 'Mod', '==', 0).then(
    etcd.put(keys.decision('api', 'd1')).value(decision('d1', 'scale_up', 'api@9080.service')),
    etcd.put(keys.action('api', 'd1')).value(action('d1', 'scale_up', 'api@9080.service')),
    etcd.put(keys.instance('api', 'api@9080.service')).value(instance('api@9080.service', 'creating', 'd1')),
  ).commit();
  await fleet.submitAndLaunch('api@9080.service', [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' }]);
  await waitFor(async () => checker.fleetUnits.has('api@9080.service'), 5_000, 'the unit seen');
  await new Promise((r) => setTimeout(r, 700));
  assert.deepEqual(checker.violations, []);
});

test('an instance recorded without its decision, an action without one, and a service past max are violations', async () => {
  await etcd.put(keys.instance('api', 'api@9081.service')).value(instance('api@9081.service', 'launched', null));
  await etcd.put(keys.action('api', 'd2')).value(action('d2', 'scale_down', 'api@9080.service'));
  for (const port of [9082, 9083]) await etcd.put(keys.instance('api', `api@${port}.service`)).value(instance(`api@${port}.service`, 'launched', null));
  await waitFor(async () => violations('bounds-etcd').length > 0, 5_000, 'bounds violated');
  assert.match(violations('instance').join('\n'), /api@9081.service recorded at revision \d+ without a scale-up decision/);
  assert.match(violations('decision').join('\n'), /action api\/d2 \(scale_down api@9080.service\) created at revision \d+ without its decision record/);
  assert.match(violations('instance').join('\n'), /scale down api\/d2 of api@9080.service .* did not mark the instance destroying/);
  assert.match(violations('bounds-etcd')[0]!, /^api: 4 instances recorded .* max 3/);
});

test('a state machine whose cursor or newest sample goes back is a sample evaluated twice', async () => {
  const key = keys.machine('api', 'api_up', '_aggregate');
  await etcd.put(key).value(machine('100', 5_000));
  await etcd.put(key).value(machine('90', 6_000));
  await etcd.put(key).value(machine('120', 4_000));
  await waitFor(async () => violations('cursor').length >= 2, 5_000, 'cursor violations');
  assert.match(violations('cursor')[0]!, /cursor went back from 100 to 90/);
  assert.match(violations('cursor')[1]!, /newest sample went back from 6000 to 4000/);
});

test('a fleet unit created with no scale up of its own, and more units than max, are violations', async () => {
  const options = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' }];
  // api@9080 has one scale up: a second creation after its removal is a unit created twice.
  await fleet.destroyUnit('api@9080.service');
  await fleet.submitAndLaunch('api@9080.service', options);
  for (const port of [9081, 9082, 9083]) await fleet.submitAndLaunch(`api@${port}.service`, options);
  await waitFor(async () => violations('unit-created').length >= 4, 10_000, 'unbacked units');
  assert.match(violations('unit-created').join('\n'), /api@9080.service created 2 times, but its instance api@9080.service was decided 1 time/);
  assert.match(violations('bounds-fleet').join('\n'), /api: 4 units in fleet after api@9083.service was created .* max 3/);
});

test('after settling, a pending action and records that differ from fleet are violations', async () => {
  await checker.checkSettled();
  const settled = violations('settled').join('\n');
  assert.match(settled, /action api\/d1 \(scale_up api@9080.service\) never finished/);
  assert.match(settled, /api: api@9080.service is still creating after settling/);
  assert.match(settled, /web never reached min_instance 1/);
});
