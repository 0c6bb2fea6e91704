import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { keys } from '@dynamite/domain';
import type { StoredMachine } from '@dynamite/store';
import { EngineHarness, sampleKey, waitFor, webServiceConfig } from '../support/engine-harness';

/** Resident memory of a process (MB), from /proc. */
function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

// Finding 8: 20,000 puts to one sample key took ~95 s to digest and left the engine at 540 MB. The watch's events
// are now turned into checks in batches (one check per state machine a batch touches), so a flood of events is
// digested by a few checks, each reading the key once, and holds no memory afterwards.
describe('a flood of puts to one sample key', () => {
  let h: EngineHarness;

  before(async () => {
    h = await EngineHarness.start({ suite: 'flood', ...webServiceConfig({ min: 1, max: 2, upPeriod: 600, downPeriod: 600 }) });
    h.spawn('run');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance launched', h);
  });
  after(async () => { await h.stop(); });

  test('20,000 puts to one key: digested, the key evaluated at its last value, no memory kept', async () => {
    const key = sampleKey('webserver', 'flood', 'cpu_user', Date.now());
    await h.put(key, '50');
    await waitFor(async () => (await h.etcd.get(keys.machine('web', 'web_up', 'flood')).string()) !== null, 20_000, 'the machine exists', h);
    let last = '0';
    for (let i = 0; i < 20_000; i += 200) {
      const revisions = await Promise.all(Array.from({ length: 200 }, async () => (await h.etcd.put(key).value('50').exec()).header.revision));
      last = String(revisions.reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b)));
    }
    await h.waitForChecksDone(last, 120_000);
    const stored = (await h.etcd.get(keys.machine('web', 'web_up', 'flood')).json()) as StoredMachine;
    assert.equal(stored.cursor, last, 'the cursor moved over the last put');
    const engine = h.processes.find((p) => p.name.startsWith('run'))!;
    const mb = rssMb(engine.child.pid!);
    assert.ok(mb < 300, `the engine process holds ${Math.round(mb)} MB after the flood (it held 540 MB before batching)`);
  });
});
