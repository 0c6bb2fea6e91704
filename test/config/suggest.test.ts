import { test } from 'node:test';
import assert from 'node:assert/strict';
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
