import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '@dynamite/domain';
import { EngineHarness, sleep, waitFor, webServiceConfig, type EngineProcess } from '../support/engine-harness';
import { freePort } from '../support/ports';

// The rule: the operator listener protects the engine. Reads are answered from a read model refreshed on its own
// schedule through an etcd client of its own, and /readyz from probe results cached for a short while, so no number
// of requests reaches the engine's etcd client: under 100 concurrent request loops the scheduler keeps handling
// samples and storing its watch revision, and /readyz stays 200.

const LOOPS = 100;
const LOAD_MS = 10_000;
const SAMPLE_EVERY_MS = 400;

/** `loops` concurrent request loops on `paths` until `until`; counts the answers by status. */
async function hammer(base: string, paths: string[], loops: number, until: number): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  const count = (s: string) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
  await Promise.all(Array.from({ length: loops }, async (_, i) => {
    while (Date.now() < until) {
      try {
        // The timeout only bounds a hang: the claim is that every read is answered, not how fast on a loaded machine.
        const res = await fetch(`${base}${paths[i % paths.length]}`, { signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        count(String(res.status));
      } catch (err) {
        count(`${err instanceof Error ? err.name : 'error'} ${paths[i % paths.length]}`);
      }
    }
  }));
  return statuses;
}

describe('the operator listener under 100 concurrent request loops', () => {
  let h: EngineHarness;
  let run: EngineProcess;
  let base: string;

  before(async () => {
    h = await EngineHarness.start({ suite: 'load', ...webServiceConfig({ min: 1, max: 3, upPeriod: 120, downPeriod: 120, cooldown: 1 }) });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    run = h.spawn('run', ['--http', `127.0.0.1:${port}`]);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance', h);
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 20_000, '/readyz 200', h);
    await h.register('webserver', 'u-load', 'web@8080.service');
  });
  after(async () => { await h?.stop(); });

  const flips = async () => (await h.decisions('web')).filter((d) => {
    const r = d as unknown as { machine: string };
    return r.machine === 'u-load' && (d.outcome === 'armed' || d.outcome === 'disarmed');
  }).length;

  test('the engine keeps evaluating samples and storing its watch revision; /readyz stays 200; reads are served', async () => {
    // The machine exists before the load: its first sample only creates it.
    await h.sample('webserver', 'u-load', 'cpu_user', 50);
    await waitFor(async () => (await h.etcd.get(keys.machine('web', 'web_up', 'u-load')).string()) !== null, 10_000, 'machine created', h);
    const flipsBefore = await flips();
    const until = Date.now() + LOAD_MS;

    // One sample every 400 ms, alternating: each arms or disarms the window (period 120 s), one record each.
    let written = 0;
    const puts: { at: number; revision: bigint }[] = [];
    const producer = (async () => {
      while (Date.now() < until) {
        const put = await h.etcd.put(`/metrics/webserver/u-load/cpu_user/${new Date().toISOString()}`).value(written % 2 === 0 ? '99' : '50');
        puts.push({ at: Date.now(), revision: BigInt(put.header.revision) });
        written += 1;
        await sleep(SAMPLE_EVERY_MS);
      }
    })();
    // What an observer sees meanwhile: the stored watch revision and /readyz, every 500 ms.
    const revisions: string[] = [];
    const ready: number[] = [];
    const observer = (async () => {
      while (Date.now() < until) {
        revisions.push((await h.etcd.get(keys.watchRevision).string()) ?? '');
        ready.push(await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.status, () => 0));
        await sleep(500);
      }
    })();
    const load = await hammer(base, ['/api/services', '/api/services/web', '/readyz', '/metrics', '/api/services/web/decisions'], LOOPS, until);
    await Promise.all([producer, observer]);
    const [flipsDuringLoad, storedAtEnd] = await Promise.all([flips().then((n) => n - flipsBefore), h.etcd.get(keys.watchRevision).string()]);
    // Every sample written 3 s before the load ended had been handled and its revision stored by then.
    const owed = puts.filter((p) => p.at <= until - 3_000).reduce((max, p) => (p.revision > max ? p.revision : max), 0n);

    const answered = [...load.values()].reduce((a, b) => a + b, 0);
    console.log(`load: ${answered} requests in ${LOAD_MS} ms by ${LOOPS} loops: ${JSON.stringify(Object.fromEntries(load))}; ` +
      `${written} samples written, ${flipsDuringLoad} evaluated during the load; stored revision moved ${new Set(revisions).size - 1} times; /readyz ${JSON.stringify(ready)}`);

    assert.deepEqual([...load.keys()], ['200'], 'every read answered 200');
    assert.ok(ready.every((s) => s === 200), `/readyz stayed 200: ${JSON.stringify(ready)}`);
    assert.ok(new Set(revisions).size >= 3, `the stored watch revision kept moving: ${JSON.stringify(revisions)}`);
    assert.ok(BigInt(storedAtEnd ?? '0') >= owed, `stored revision ${storedAtEnd} covers the samples written until 3 s before the end (${owed})`);
    assert.ok(flipsDuringLoad >= written / 2, `samples kept being evaluated: ${flipsDuringLoad} of ${written}`);
    // ... and every one of them exactly once, once the load is over.
    await waitFor(async () => (await flips()) - flipsBefore >= written, 20_000, `${written} samples evaluated`, h);
    await sleep(1_000);
    assert.equal((await flips()) - flipsBefore, written);
    assert.equal(run.child.exitCode, null);
  });
});
