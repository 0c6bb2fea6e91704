import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scaleDownTargetFor } from '@dynamite/domain';
import { decideOn, resolveRegistration } from '@dynamite/engine';
import { RecordsBench } from '../hostile/records/support';

// The rule: a name read from etcd reaches a fleet URL, a key or a unit's command line only when it is a fleet unit
// name and one of the service's own instances. Registration values (`<app>/<type>/<uuid>/service_instance_name`)
// are written by the applications' announcers: whatever they say, a scale down removes a recorded instance of the
// service or nothing.
describe('registration values read from etcd', () => {
  let bench: RecordsBench;

  before(async () => {
    bench = await RecordsBench.start('names');
  });
  after(async () => { await bench?.stop(); });

  const register = (uuid: string, value: string) => bench.ctx.store.etcd.put(`/services/webserver/${uuid}/service_instance_name`).value(value);

  test('a value that is not a unit name names nothing: never passed on', async () => {
    for (const value of ['web@28080.service; reboot', '$(reboot)', 'web@28080.service\nx', '../../_dynamite/actions/web/x', 'web@.service', '@28080', 'a b', '']) {
      await register('u-bad', value);
      assert.equal(await resolveRegistration(bench.ctx, '/services', 'webserver', 'u-bad'), null, JSON.stringify(value));
    }
  });

  test('a unit name that is not a recorded instance of the service is refused by the decision; the recorded one is removed', async () => {
    const records = await bench.ctx.store.readService('web');
    // web runs one instance; a scale down needs two launched.
    const two = { ...records, instances: [...records.instances, { ...records.instances[0]!, name: 'web@28081.service', port: 28081, attached_services: [] }] };
    for (const value of ['bystander.service', 'web@28082.service', 'web_disc@28080.service', 'web@028080.service']) {
      await register('u-other', value);
      const named = await resolveRegistration(bench.ctx, '/services', 'webserver', 'u-other');
      const decided = decideOn(bench.loaded.config, two, { direction: 'down', target: scaleDownTargetFor('u-other', named) }, { at: Date.now() });
      assert.equal(decided.decision.outcome, 'suppressed', value);
      assert.equal(decided.decision.outcome === 'suppressed' && decided.decision.reason, 'unknown_instance', value);
    }
    await register('u-own', 'web@28080');
    const own = decideOn(bench.loaded.config, two, { direction: 'down', target: scaleDownTargetFor('u-own', await resolveRegistration(bench.ctx, '/services', 'webserver', 'u-own')) }, { at: Date.now() });
    const action = own.decision.outcome === 'action' ? own.decision.actions[0]! : null;
    assert.deepEqual(action && [action.kind, action.instance, action.attached], ['scale_down', 'web@28080.service', ['web_disc@28080.service']]);
  });
});
