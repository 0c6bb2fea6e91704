import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '@dynamite/domain';
import { controlsOf, decideOn, reconcile, scaleCommitFor } from '@dynamite/engine';
import { commitBoundRepair, type ServiceRecords } from '@dynamite/store';
import { boundRepairRecord } from '@dynamite/domain';
import { RecordsBench } from '../hostile/records/support';

// The operator's controls are read with the service's records and guard the commit of every decision made on them:
// a pause, a protection or the dry run written between the read and the commit makes the commit fail, so the decision
// is made again with it (every worker honours a change at once). Records that fail their schema are read as their
// safe side. Real etcd, the engine's own store and transactions.
describe('operator controls guard the commit and are read safe side first', () => {
  let bench: RecordsBench;

  before(async () => { bench = await RecordsBench.start('controls'); });
  after(async () => { await bench?.stop(); });
  afterEach(async () => { await bench.restore(); });

  const up = { direction: 'up' } as const;
  const down = { direction: 'down', target: { kind: 'instance', name: 'web@28080.service' } } as const;
  const store = () => bench.ctx.store;

  /** Decides on `records` and commits as a bound repair would: true when the commit went through. */
  async function commitOn(records: ServiceRecords, request: typeof up | typeof down): Promise<boolean> {
    const decided = decideOn(bench.loaded.config, records, request, { at: Date.now() });
    assert.equal(decided.decision.outcome, 'action', JSON.stringify(decided.decision));
    const record = boundRepairRecord({ service: 'web', decisionId: 'guard-test', at: 1, bound: 'min_instance', limit: 1 }, decided.decision, decided.before, {});
    const scale = scaleCommitFor(bench.loaded.config, decided, { decisionId: 'guard-test', reason: 'test', now: Date.now(), dueAt: null, cooldown: null });
    return commitBoundRepair(store(), { service: 'web', templateRevision: records.template.modRevision, record, scale });
  }

  test('a pause written after the read fails the commit; decided again, the fire is paused', async () => {
    const read = await store().readService('web');
    await store().writePause({ service: 'web', directions: ['up'], reason: 'late pause', until: null, at: Date.now(), by: 'test' });
    assert.equal(await commitOn(read, up), false);
    assert.equal(await store().getString(keys.action('web', 'guard-test')), null);
    const again = decideOn(bench.loaded.config, await store().readService('web'), up, { at: Date.now() });
    assert.deepEqual(again.decision.outcome === 'suppressed' && again.decision.reason, 'paused');
  });

  test('a protection of the victim written after the read fails the commit of its removal', async () => {
    // Two launched instances, so a scale down is allowed (min 1).
    const read = await store().readService('web');
    const two: ServiceRecords = { ...read, instances: [...read.instances, { ...read.instances[0]!, name: 'web@28081.service', port: 28081, attached_services: [] }] };
    await store().writeProtection({ service: 'web', instance: 'web@28080.service', reason: null, at: Date.now(), by: 'test' });
    assert.equal(await commitOn(two, down), false);
    const fresh = await store().readService('web');
    assert.deepEqual([...controlsOf(fresh).protectedInstances], ['web@28080.service']);
  });

  test('the dry run switched on after the read fails the commit; decided again, it is a dry run', async () => {
    const read = await store().readService('web');
    await store().writeDryRun({ at: Date.now(), by: 'test' });
    assert.equal(await commitOn(read, up), false);
    const again = decideOn(bench.loaded.config, await store().readService('web'), up, { at: Date.now() });
    assert.equal(again.decision.outcome === 'action' && again.decision.dryRun, true);
    assert.equal(scaleCommitFor(bench.loaded.config, again, { decisionId: 'x', reason: 't', now: 0, dueAt: null, cooldown: null })?.actions.length, 0);
  });

  test('unchanged controls: the same commit goes through', async () => {
    assert.equal(await commitOn(await store().readService('web'), up), true);
  });

  test('a control record that fails its schema is read as its safe side and reported', async () => {
    const etcd = store().etcd;
    await etcd.put(keys.pause('web')).value('{"service":"web","directions":["sideways"]}');
    await etcd.put(keys.protection('web', 'web@28080.service')).value('not json');
    await etcd.put(keys.dryRun).value('[]');
    const controls = controlsOf(await store().readService('web'));
    assert.deepEqual(controls.pause?.directions, ['up', 'down']);
    assert.match(controls.pause?.reason ?? '', /cannot be read/);
    assert.deepEqual([...controls.protectedInstances], ['web@28080.service']);
    assert.equal(controls.engineDryRun, true);
    assert.equal(await bench.rejectedCount('pause', 'invalid'), 1);
    assert.equal(await bench.rejectedCount('protection', 'not_json'), 1);
    assert.equal(await bench.rejectedCount('dry_run', 'invalid'), 1);
    // A pause stored under another service's key is not that service's.
    await etcd.put(keys.pause('web')).value(JSON.stringify({ service: 'other', directions: ['up'], reason: 'x', until: null, at: 1, by: null }));
    assert.equal(controlsOf(await store().readService('web')).pause?.reason, 'the pause record cannot be read; resume to clear it');
    assert.equal(await bench.rejectedCount('pause', 'key_mismatch'), 1);
  });

  test('a paused min_instance repair is recorded once per situation, and done once resumed', async () => {
    await store().writePause({ service: 'web', directions: ['up', 'down'], reason: 'maintenance', until: null, at: Date.now(), by: 'test' });
    await store().etcd.delete().key(keys.instance('web', 'web@28080.service')); // web now needs one instance
    for (let i = 0; i < 3; i += 1) await reconcile(bench.ctx, { heal: false });
    const paused = (await store().listDecisions('web', 100)).filter((d) => d.outcome === 'suppressed' && d.reason === 'paused');
    assert.equal(paused.length, 1);
    assert.match(paused[0]!.message, /^web has 0 active instance\(s\), fewer than min_instance 1, but web is paused \(scaling up and down\) by test until resumed: "maintenance"$/);
    assert.deepEqual(await store().listActions('web'), []);
    await store().deletePause('web');
    const report = await reconcile(bench.ctx, { heal: false });
    assert.deepEqual(report.boundRepairs, ['scale_up web@28080.service']);
  });

  test('in a dry run a unit fleet lost is not launched again: one dry_run heal record per version of the instance', async () => {
    await store().writeDryRun({ at: Date.now(), by: 'test' });
    await bench.fleet.destroyUnit('web_disc@28080.service');
    for (let i = 0; i < 3; i += 1) await reconcile(bench.ctx, { heal: true });
    const heal = (await store().listDecisions('web', 100)).filter((d) => d.outcome === 'dry_run' && d.reason === 'heal');
    assert.equal(heal.length, 1);
    assert.equal(heal[0]!.message, 'fleet has lost web_disc@28080.service of web@28080.service: dry run, would launch it again; nothing done');
    assert.equal(await bench.fleet.getUnit('web_disc@28080.service'), null);
    // Out of the dry run, the next reconcile heals it (and the baseline is whole again for the next test).
    await store().writeDryRun(null);
    assert.deepEqual((await reconcile(bench.ctx, { heal: true })).healed, ['web@28080.service']);
  });
});
