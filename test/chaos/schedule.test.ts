import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_KINDS, faultSchedule } from './schedule';

test('the same seed gives the same fault schedule; another seed another one', () => {
  assert.deepEqual(faultSchedule(7, 300), faultSchedule(7, 300));
  assert.notDeepEqual(faultSchedule(7, 300), faultSchedule(8, 300));
});

test('every fault kind is scheduled at least once, even in a one-minute run, whatever the seed', () => {
  for (let seed = 1; seed <= 300; seed += 1) {
    const kinds = new Set(faultSchedule(seed, 60).map((f) => f.kind));
    assert.deepEqual([...FAULT_KINDS].filter((k) => !kinds.has(k)), [], `seed ${seed}`);
  }
});

test('faults of one domain never overlap, and every fault is over by the end of the run', () => {
  for (const [seed, seconds] of [[1, 60], [2, 300], [3, 300], [99, 120]] as const) {
    const faults = faultSchedule(seed, seconds);
    assert.ok(faults.length >= (seconds === 60 ? 12 : seconds / 6), `seed ${seed}: ${faults.length} faults`);
    const domain = (f: (typeof faults)[number]) => (f.kind.endsWith('-scheduler') ? 'scheduler' : f.kind.endsWith('-worker') ? f.target : f.kind.split('-')[0]);
    for (const [i, a] of faults.entries()) {
      assert.ok(a.atMs + a.durationMs <= seconds * 1000);
      if (i > 0) assert.ok(a.atMs >= faults[i - 1]!.atMs, 'in start order');
      for (const b of faults.slice(i + 1)) {
        if (domain(a) === domain(b)) assert.ok(b.atMs >= a.atMs + a.durationMs, `seed ${seed}: #${a.id} and #${b.id} overlap`);
      }
    }
  }
});
