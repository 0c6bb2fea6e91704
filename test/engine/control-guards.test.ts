import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '@dynamite/domain';
import { controlsOf, decideOn, scaleCommitFor } from '@dynamite/engine';
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
});
