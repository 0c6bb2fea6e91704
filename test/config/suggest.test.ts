import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { closestMatch, editDistance } from '@dynamite/domain';

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('max_instance', 'max_instance'), 0);
  assert.equal(editDistance('max_instances', 'max_instance'), 1);
  assert.equal(editDistance('treshold', 'threshold'), 1);
  assert.equal(editDistance('metirc', 'metric'), 1);
  assert.equal(editDistance('', 'abc'), 3);
});

test('closestMatch: typos, case, abbreviations; nothing when nothing is close', () => {
  const keys = ['min_instance', 'max_instance', 'base_instance_prefix_number', 'ports_per_instance', 'type'];
  assert.equal(closestMatch('max_instances', keys), 'max_instance');
  assert.equal(closestMatch('Min_Instance', keys), 'min_instance');
  assert.equal(closestMatch('base_instance', keys), 'base_instance_prefix_number');
  assert.equal(closestMatch('typ', keys), 'type');
  assert.equal(closestMatch('colour', keys), null);
  assert.equal(closestMatch('instance', keys), null);
  assert.equal(closestMatch('sec', ['second', 'minute', 'hour']), 'second');
  assert.equal(closestMatch('x', []), null);
});

test('closestMatch compares only up to the distance its rules accept: same answers as a search over full distances', () => {
  // The rules of closestMatch, over editDistance in full: the reference the bounded search must agree with.
  const reference = (word: string, candidates: string[]): string | null => {
    const target = word.toLowerCase();
    let best: string | null = null;
    let bestDistance = Infinity;
    let ties = 0;
    for (const c of candidates) {
      const d = editDistance(target, c.toLowerCase());
      if (d < bestDistance) [best, bestDistance, ties] = [c, d, 1];
      else if (d === bestDistance) ties++;
    }
    if (best === null) return null;
    if (bestDistance <= Math.min(2, Math.floor(target.length / 3) || 1)) return best;
    const starts = candidates.filter((c) => target.length >= 3 && c.toLowerCase().startsWith(target));
    if (starts.length === 1) return starts[0]!;
    const allowed = Math.max(1, Math.min(4, Math.floor(Math.max(target.length, best.length) / 3)));
    return bestDistance <= allowed && ties === 1 ? best : null;
  };
  const word = fc.string({ maxLength: 16, unit: fc.constantFrom('a', 'b', 'c', 'A', '_', 'x') });
  fc.assert(
    fc.property(word, fc.array(word, { maxLength: 12 }), (w, candidates) => {
      assert.equal(closestMatch(w, candidates), reference(w, candidates));
    }),
    { seed: 20_251_201, numRuns: 2000 },
  );
});
