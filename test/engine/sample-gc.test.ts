import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectOldSamples } from '@dynamite/engine';
import { sampleKey } from '../support/engine-harness';
import { RecordsBench } from '../hostile/records/support';

// The sample GC: keys older than metrics_retention (10 minutes by default) under the prefixes the engine watches are
// deleted; newer ones, keys of service types no policy reads, and keys that are not samples are left alone. Real etcd.
describe('sample garbage collection', () => {
  let bench: RecordsBench;
  before(async () => { bench = await RecordsBench.start('sample-gc'); });
  after(async () => bench?.stop());

  test('2,300 old samples deleted over several pages and transactions; nothing else touched', async () => {
    const etcd = bench.ctx.store.etcd;
    const now = Date.now();
    const old = Array.from({ length: 2_300 }, (_, i) => sampleKey('webserver', `u-${i % 7}`, 'cpu_user', now - 3_600_000 + i));
    const fresh = Array.from({ length: 5 }, (_, i) => sampleKey('webserver', 'u-1', 'cpu_user', now - i * 1000));
    const unwatched = [sampleKey('database', 'u-1', 'cpu_user', now - 3_600_000), sampleKey('web', 'u-1', 'cpu_user', now - 3_600_000)];
    const notSamples = ['/metrics/webserver/u-1/cpu_user/not-a-time', '/metrics/webserver/u-1/cpu_user/deeper/2015-07-28T13:15:50Z'];
    for (let i = 0; i < old.length; i += 100) await Promise.all(old.slice(i, i + 100).map((k) => etcd.put(k).value('1')));
    for (const k of [...fresh, ...unwatched, ...notSamples]) await etcd.put(k).value('1');

    assert.equal(await collectOldSamples(bench.ctx), 2_300);
    const left = (await etcd.getAll().prefix('/metrics/').keys()).sort();
    assert.deepEqual(left, [...fresh, ...unwatched, ...notSamples].sort());
    assert.equal(await collectOldSamples(bench.ctx), 0, 'a second run finds nothing');
  });
});
