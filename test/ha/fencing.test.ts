import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { ELECTION_PREFIX, SchedulerElection, systemClock } from '@dynamite/engine';
import { FencedWriteError, StateStore, type WriteFence } from '@dynamite/store';
import { EtcdServer } from '../support/etcd';
import { waitFor } from '../support/engine-harness';

// The scheduler's writes are fenced on its election key: once the key is gone (its lease ran out or was revoked),
// every commit fails in etcd itself, whatever the stale leader believes; and a leader whose lease is lost stops
// leading (onDemoted with lost=true) while the next candidate is elected. Real etcd, in-process candidates.
describe('fencing of the scheduler leadership', () => {
  let etcd: EtcdServer;
  let client: Etcd3;
  const silent = pino({ level: 'silent' });

  before(async () => {
    etcd = await EtcdServer.start();
    client = new Etcd3({ hosts: etcd.url });
  });
  after(async () => {
    client.close();
    await etcd.stop();
  });

  test('a commit guarded by a fence applies while the key is there, and is refused once the key is gone', async () => {
    const key = `${ELECTION_PREFIX}test-fence`;
    await client.put(key).value('{}');
    const createRevision = String((await client.get(key).exec()).kvs[0]!.create_revision);
    const store = new StateStore(new Etcd3({ hosts: etcd.url }));
    try {
      // holds() says yes: only etcd can tell that the leadership is gone.
      const fence: WriteFence = { key, createRevision, holds: () => true };
      store.fenceWith(fence);
      assert.equal(await store.commit([], [{ put: '/_dynamite/test/a', value: '1' }]), true);
      // A guard that moved is still a plain conflict (false), not a lost leadership.
      assert.equal(await store.commit([{ key: '/_dynamite/test/a', modRevision: '1' }], [{ put: '/_dynamite/test/a', value: 'x' }]), false);

      await client.delete().key(key).exec();
      await assert.rejects(store.commit([], [{ put: '/_dynamite/test/a', value: '2' }]), FencedWriteError);
      await assert.rejects(store.writeWatchRevision('12345'), FencedWriteError);
      // The same key created again (another lease) is another leadership: still refused.
      await client.put(key).value('{}');
      await assert.rejects(store.commit([], [{ put: '/_dynamite/test/a', value: '3' }]), /another campaign holds it/);
      assert.equal(await client.get('/_dynamite/test/a').string(), '1', 'nothing written after the key went');
      assert.equal(await client.get('/_dynamite/scheduler/watch_revision').string(), null);

      // A holder that knows its lease ran out sends nothing at all.
      store.fenceWith({ key, createRevision: String((await client.get(key).exec()).kvs[0]!.create_revision), holds: () => false });
      await assert.rejects(store.commit([], [{ put: '/_dynamite/test/a', value: '4' }]), /the lease ran out/);
      assert.equal(await client.get('/_dynamite/test/a').string(), '1');
    } finally {
      store.etcd.close();
      await client.delete().prefix('/_dynamite/').exec();
    }
  });

  test('a leader whose lease is revoked behind its back is demoted as lost, the standby is elected, and the old fence refuses writes', async () => {
    const events: string[] = [];
    const fences = new Map<string, WriteFence>();
    const stores: StateStore[] = [];
    const candidate = (id: string) => {
      const store = new StateStore(new Etcd3({ hosts: etcd.url }));
      stores.push(store);
      return new SchedulerElection({
        etcd: store.etcd, id, ttlSeconds: 2, log: silent, clock: systemClock, url: () => null,
        onElected: async (fence) => { fences.set(id, fence); store.fenceWith(fence); events.push(`${id} elected`); },
        onDemoted: async (_reason, lost) => { events.push(`${id} demoted${lost ? ' (lost)' : ''}`); },
      });
    };
    const a = candidate('a');
    const b = candidate('b');
    try {
      a.start();
      await a.settled;
      assert.equal(a.status().role, 'leader');
      b.start();
      await b.settled;
      assert.equal(b.status().role, 'standby');
      assert.equal(await stores[0]!.commit([], [{ put: '/_dynamite/test/leader', value: 'a' }]), true);

      // Revoke a's lease from outside: etcd deletes its key; a must notice and stop, b must lead.
      const aKey = fences.get('a')!.key;
      await client.leaseClient.leaseRevoke({ ID: BigInt(`0x${aKey.slice(ELECTION_PREFIX.length)}`).toString() });
      // The role changes before the election's callbacks have run: wait for b's onElected too.
      await waitFor(async () => (a.status().role === 'standby' && b.status().role === 'leader' && events.includes('b elected') ? true : null), 10_000, 'b leads, a stands by');
      assert.ok(events.includes('a demoted (lost)'), events.join(', '));
      assert.deepEqual(events.filter((e) => e.endsWith('elected')), ['a elected', 'b elected']);

      // a's old fence: refused in etcd even if a believed it still held.
      const stale = new StateStore(new Etcd3({ hosts: etcd.url }));
      stores.push(stale);
      stale.fenceWith({ ...fences.get('a')!, holds: () => true });
      await assert.rejects(stale.commit([], [{ put: '/_dynamite/test/leader', value: 'stale a' }]), FencedWriteError);
      assert.equal(await stores[1]!.commit([], [{ put: '/_dynamite/test/leader', value: 'b' }]), true);
      assert.equal(await client.get('/_dynamite/test/leader').string(), 'b');
      // a campaigns again, behind b.
      await waitFor(async () => ((await client.getAll().prefix(ELECTION_PREFIX).keys()).length === 2 ? true : null), 10_000, 'a campaigns again');
    } finally {
      await a.close();
      await b.close();
      for (const s of stores) s.etcd.close();
    }
    assert.ok(events.includes('b demoted'), 'closing the leader demotes it gracefully');
  });
});
