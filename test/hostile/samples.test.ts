import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FUTURE_TOLERANCE_MS,
  INITIAL_MACHINE_STATE,
  SAMPLE_VALUE_MAX_LENGTH,
  parseIsoTimestamp,
  parseSampleKey,
  parseSampleValue,
  stepMachine,
  type MachineState,
} from '@dynamite/domain';
import { ROOT } from '../config/support';
import { policy } from '../domain/factory';

/**
 * The hostile sample corpus: one case a file in test/hostile/samples/{values,keys,clock}/, each file holding the
 * input and what must come of it (a rejection reason, or the value / time read). Nothing may throw.
 */

const DIR = join(ROOT, 'test', 'hostile', 'samples');

function cases<T>(folder: string): [string, T][] {
  return readdirSync(join(DIR, folder))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f.slice(0, -'.json'.length), JSON.parse(readFileSync(join(DIR, folder, f), 'utf8')) as T]);
}

interface ValueCase { why: string; metric: string; value: string; expect: { reason: string; message?: string } | { value: number } }
interface KeyCase { why: string; key: string; expect: { reason: string; message?: string } | { ts: number } }
interface ClockCase { why: string; receivedAt: string; samples: { key: string; value: number; expect: 'accepted' | string }[] }

describe('hostile sample values', () => {
  for (const [name, c] of cases<ValueCase>('values')) {
    test(`${name}: ${c.why}`, () => {
      const result = parseSampleValue(c.value, policy('p', { metric: c.metric }));
      if ('value' in c.expect) {
        assert.deepEqual(result, { ok: true, value: c.expect.value });
        return;
      }
      assert.equal(result.ok, false, `accepted: ${JSON.stringify(result).slice(0, 200)}`);
      if (result.ok) return;
      assert.equal(result.reason, c.expect.reason, result.message.slice(0, 300));
      if (c.expect.message !== undefined) assert.equal(result.message, c.expect.message);
      assert.ok(result.message.length <= 300 && !/[\n\r]/.test(result.message), `a short one-line message: ${result.message.slice(0, 300)}`);
    });
  }

  // Too big for a fixture file; built here.
  const generated: [string, string, string, string][] = [
    ['huge but flat: 10 MB of digits as a plain value', 'cpu_user', '1'.repeat(10_000_000), 'too_large'],
    ['huge but flat: a 10 MB string inside JSON', 'response_time.p95', `{"p95": 1, "pad": "${'x'.repeat(10_000_000)}"}`, 'too_large'],
    ['one character over the size limit', 'cpu_user', `${' '.repeat(SAMPLE_VALUE_MAX_LENGTH)}5`, 'too_large'],
  ];
  for (const [name, metric, value, reason] of generated) {
    test(name, () => {
      const result = parseSampleValue(value, policy('p', { metric }));
      assert.equal(result.ok ? 'accepted' : result.reason, reason);
    });
  }
  test('exactly at the size limit: read', () => {
    assert.deepEqual(parseSampleValue(`${' '.repeat(SAMPLE_VALUE_MAX_LENGTH - 1)}5`, policy('p')), { ok: true, value: 5 });
  });
});

describe('hostile sample keys', () => {
  for (const [name, c] of cases<KeyCase>('keys')) {
    test(`${name}: ${c.why}`, () => {
      const result = parseSampleKey(c.key, '/metrics');
      if ('ts' in c.expect) {
        assert.equal(result.ok, true, result.ok ? '' : result.message);
        if (result.ok) assert.equal(result.sample.ts, c.expect.ts);
        return;
      }
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.reason, c.expect.reason);
      if (c.expect.message !== undefined) assert.equal(result.message, c.expect.message);
      assert.ok(result.message.length <= 500 && !/[\n\r]/.test(result.message), `a short one-line message: ${result.message.slice(0, 500)}`);
    });
  }
});

describe('hostile sample clocks: a sample never moves a machine past its receipt time plus the tolerance', () => {
  for (const [name, c] of cases<ClockCase>('clock')) {
    test(`${name}: ${c.why}`, () => {
      const start = parseIsoTimestamp(c.receivedAt)!;
      const p = policy('p', { periodMs: 30_000 });
      let state: MachineState = INITIAL_MACHINE_STATE;
      const outcomes: string[] = [];
      c.samples.forEach((s, i) => {
        const receivedAt = start + i * 1000;
        const ts = parseIsoTimestamp(s.key);
        assert.notEqual(ts, null, `fixture key ${s.key} parses`);
        const step = stepMachine(
          state,
          { kind: 'sample', sample: { tsKey: s.key, ts: ts!, value: s.value, receivedAt } },
          { service: 'web', policy: p, direction: 'up', machine: 'u1', cooldownUntil: null, now: receivedAt },
        );
        outcomes.push(step.ignored ?? 'accepted');
        if (step.ignored) {
          assert.equal(step.state, state, 'an ignored sample changes nothing');
          assert.deepEqual(step.effects, []);
        }
        state = step.state;
        if (state.lastSeenTs !== null) assert.ok(state.lastSeenTs <= receivedAt + FUTURE_TOLERANCE_MS, `lastSeen ${state.lastSeenKey} is past receipt + tolerance`);
      });
      assert.deepEqual(outcomes, c.samples.map((s) => s.expect));
    });
  }
});
