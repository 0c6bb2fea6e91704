import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deterministicId, keys, type MachineRef } from '@dynamite/domain';
import { runPolicyCheckBatch } from '@dynamite/engine';
import { parseStoredMachine, type Guard, type Write } from '@dynamite/store';
import { sampleKey } from '../support/engine-harness';
import { RecordsBench } from '../hostile/records/support';

// A check job carries every state machine a batch of sample events touched. The steps that decide nothing are
// committed together (a few guarded transactions instead of one per machine); a machine that fires, or loses a
// race, is checked on its own. These tests run the processor against a real etcd, Redis and the fleet emulator.

const UUIDS = Array.from({ length: 40 }, (_, i) => `u-${i + 1}`);
const refsOf = (uuids: string[]): MachineRef[] => uuids.flatMap((u) => [
  { service: 'web', policy: 'web_up', machine: u },
  { service: 'web', policy: 'web_down', machine: u },
]);

describe('policy checks in batches', () => {
  let bench: RecordsBench;
  /** Every commit the store makes, with its guards and writes. */
  let commits: { guards: Guard[]; writes: Write[] }[] = [];

  before(async () => {
    bench = await RecordsBench.start('check-batches');
    const store = bench.ctx.store;
    const commit = store.commit.bind(store);
    store.commit = (guards, writes) => {
      commits.push({ guards, writes });
      return commit(guards, writes);
    };
  });
  after(async () => bench?.stop());
  afterEach(async () => {
    commits = [];
    await bench.restore();
  });

  let ts = Date.now();
  /** Puts one sample per uuid (each a new key); returns each uuid's revision. */
  async function putSamples(uuids: string[], value: string): Promise<Map<string, string>> {
    ts += 1_000;
    const out = new Map<string, string>();
    for (const u of uuids) {
      const res = await bench.ctx.store.etcd.put(sampleKey('webserver', u, 'cpu_user', ts)).value(value).exec();
      out.set(u, String(res.header.revision));
    }
    return out;
  }

  async function cursorOf(ref: MachineRef): Promise<string | null> {
    const text = await bench.ctx.store.etcd.get(keys.machine(ref.service, ref.policy, ref.machine)).string();
    return text === null ? null : parseStoredMachine(text).cursor;
  }

  async function ingested(): Promise<number> {
    const metric = await bench.metrics.registry.getSingleMetric('dynamite_samples_ingested_total')?.get();
    return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  }

  const hint = () => ({ revision: '0', receivedAt: Date.now() });

  test('80 quiet machines are committed in one transaction, each at its own cursor', async () => {
    const revisions = await putSamples(UUIDS, '50');
    const result = await runPolicyCheckBatch(bench.ctx, refsOf(UUIDS), hint());
    assert.deepEqual(result, { batched: 80, alone: 0, skipped: 0, unchanged: 0, samples: 80, decisions: [] });
    assert.equal(commits.length, 1, 'one transaction for all 80 steps');
    assert.equal(commits[0]!.writes.length, 80);
    for (const ref of refsOf(UUIDS)) assert.equal(await cursorOf(ref), revisions.get(ref.machine), `${ref.policy}/${ref.machine}`);

    // Nothing new: nothing is written.
    commits = [];
    const again = await runPolicyCheckBatch(bench.ctx, refsOf(UUIDS), hint());
    assert.deepEqual(again, { batched: 0, alone: 0, skipped: 0, unchanged: 80, samples: 0, decisions: [] });
    assert.equal(commits.length, 0);
  });

  test('three batches of the same machines at once: every sample is evaluated exactly once', async () => {
    await putSamples(UUIDS, '50');
    await runPolicyCheckBatch(bench.ctx, refsOf(UUIDS), hint());
    await putSamples(UUIDS, '40');
    const last = await putSamples(UUIDS, '60');
    const before = await ingested();
    const results = await Promise.all([0, 1, 2].map(() => runPolicyCheckBatch(bench.ctx, refsOf(UUIDS), hint())));
    assert.equal((await ingested()) - before, 2 * 80, 'two new samples for each of 80 machines, each evaluated once');
    assert.equal(results.reduce((sum, r) => sum + r.samples, 0), 2 * 80);
    for (const ref of refsOf(UUIDS)) assert.equal(await cursorOf(ref), last.get(ref.machine), `${ref.policy}/${ref.machine}`);
  });

  test('a machine that fires is decided on its own; the others still share one transaction', async () => {
    // u-1's scale-up window was armed 70 s ago with two breaching samples and expired 10 s ago (its timer job has
    // not run): the next sample closes it, and it fires.
    const now = Date.now();
    ts = Math.max(ts, now);
    const firstKey = new Date(ts - 70_000).toISOString();
    const newestKey = new Date(ts - 11_000).toISOString();
    const timerId = deterministicId(now - 70_000, 'web', 'web_up', 'u-1', firstKey);
    const armedState = {
      state: {
        lastSeenKey: newestKey, lastSeenTs: ts - 11_000, cooldownNotedUntil: null,
        armed: { timerId, armedAt: now - 70_000, expiresAt: now - 10_000, samples: 2, firstSampleKey: firstKey, newestSampleKey: newestKey, newestValue: 95, newestReceivedAt: now - 11_000 },
      },
      cursor: String(await bench.ctx.store.currentRevision()),
      updatedAt: now - 11_000,
    };
    await bench.ctx.store.etcd.put(keys.machine('web', 'web_up', 'u-1')).value(JSON.stringify(armedState)).exec();
    await putSamples(UUIDS, '95');

    const result = await runPolicyCheckBatch(bench.ctx, refsOf(UUIDS), hint());
    assert.equal(result.alone, 1, 'u-1 fired and was checked on its own');
    assert.equal(result.batched, 79);
    assert.deepEqual(result.decisions.map((d) => `${d.policy}/${d.machine}: ${d.outcome}`), ['web_up/u-1: scaled'], 'the decision is in the job result (the board shows it)');
    const decisionWrites = commits.flatMap((c) => c.writes).filter((w) => 'put' in w && w.put.startsWith(keys.action('web', '')));
    assert.equal(decisionWrites.length, 1, 'one scale action decided');
    assert.equal(commits.length, 2, 'the 79 quiet steps in one transaction, the fire in its own');
    const actions = await bench.ctx.jobs.jobQueues.actions.getJobs(['waiting', 'prioritized']);
    assert.deepEqual(actions.map((j) => (j.data as { kind: string }).kind), ['scale_up']);
    // The 39 other scale-up machines armed on their breaching sample; the scale-down machines did not.
    const armed = await Promise.all(refsOf(UUIDS.slice(1)).map(async (ref) => {
      const text = await bench.ctx.store.etcd.get(keys.machine(ref.service, ref.policy, ref.machine)).string();
      return `${ref.policy}:${text !== null && parseStoredMachine(text).state.armed !== null}`;
    }));
    assert.equal(armed.filter((a) => a === 'web_up:true').length, 39);
    assert.equal(armed.filter((a) => a === 'web_down:false').length, 39);
  });

  test('machines no longer in the config are skipped, the rest checked', async () => {
    await putSamples(['u-1'], '50');
    const result = await runPolicyCheckBatch(bench.ctx, [{ service: 'gone', policy: 'web_up', machine: 'u-1' }, ...refsOf(['u-1'])], hint());
    assert.deepEqual(result, { batched: 2, alone: 0, skipped: 1, unchanged: 0, samples: 2, decisions: [] });
  });
});
