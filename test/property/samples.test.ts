import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SAMPLE_VALUE_MAX_LENGTH, parseIsoTimestamp, parseSampleKey, parseSampleValue, type ScalingPolicyConfig } from '@dynamite/domain';
import { policy } from '../domain/factory';
import { check, hostileText } from './support';

/**
 * Sample keys and values are untrusted: parsing them never throws, a rejection is a reason and a one-line
 * message, and whatever is accepted is finite.
 */

const plain = policy('p', { metric: 'cpu_user' });
const dotted = policy('p', { metric: 'response_time.p95' });
const deepPath = policy('p', { metric: 'm.a.b.c' });

// JSON-ish text: real JSON (with the metric's key or without), deep brackets, broken JSON, numbers of any size.
const jsonish = fc.oneof(
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify({ p95: v })),
  fc.double().map((d) => `{"p95": ${String(d)}}`),
  fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.constantFrom('[', '{"a":', '{"p95":[')).map(([n, open]) => open.repeat(n)),
  fc.integer({ min: 0, max: 200 }).map((n) => `{"p95": 1, "x": ${'['.repeat(n)}${']'.repeat(n)}}`),
  fc.integer({ min: 0, max: 20_000 }).map((n) => `{"p95": ${'['.repeat(n)}${']'.repeat(n)}}`),
  fc.integer({ min: 0, max: 40 }).map((n) => `{"a": {"b": {"c": ${'['.repeat(n)}5${']'.repeat(n)}}}}`),
  fc.stringMatching(/^[-+]?[0-9]{0,400}(\.[0-9]{0,20})?([eE][-+]?[0-9]{1,5})?$/),
  hostileText(200),
);

function assertValueResult(raw: string, p: ScalingPolicyConfig): void {
  const result = parseSampleValue(raw, p);
  if (result.ok) {
    assert.ok(Number.isFinite(result.value), `accepted a non-finite value: ${result.value}`);
    assert.ok(raw.length <= SAMPLE_VALUE_MAX_LENGTH);
  } else {
    assert.match(result.reason, /^(not_a_number|not_finite|bad_json|missing_key|too_large|too_deep)$/);
    assert.doesNotMatch(result.message, /[\n\r]/);
    assert.ok(result.message.length <= 400, `message of ${result.message.length} characters`);
  }
}

test('parseSampleValue never throws, and accepts only finite numbers', () => {
  check(fc.property(jsonish, fc.constantFrom(plain, dotted, deepPath), (raw, p) => assertValueResult(raw, p)));
});

test('parseSampleValue on values past the size limit: too_large, at once', () => {
  check(fc.property(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(plain, dotted), (extra, p) => {
    const result = parseSampleValue(`${'['.repeat(SAMPLE_VALUE_MAX_LENGTH + extra)}`, p);
    assert.equal(result.ok ? 'accepted' : result.reason, 'too_large');
  }), { numRuns: 20 });
});

const segment = fc.oneof(fc.constantFrom('web', 'u1', 'cpu_user', '', '.', '..', '_aggregate'), hostileText(12));
const timestamp = fc.oneof(
  fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.stringMatching(/^[0-9+-]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,12})?(Z|[+-][0-9]{2}:?[0-9]{2})?$/),
  hostileText(30),
);
const sampleKey = fc.oneof(
  fc.tuple(fc.constantFrom('/metrics', '/metrics/', '/m', ''), fc.array(segment, { maxLength: 5 }), timestamp).map(([base, segs, ts]) => [base, ...segs, ts].join('/')),
  hostileText(100),
);

test('parseSampleKey never throws; an accepted key has a finite time', () => {
  check(fc.property(sampleKey, fc.constantFrom('/metrics', '/metrics/', '/'), (key, base) => {
    const result = parseSampleKey(key, base);
    if (result.ok) assert.ok(Number.isFinite(result.sample.ts));
    else assert.doesNotMatch(result.message, /[\n\r]/);
  }));
});

test('parseIsoTimestamp never throws; it gives a finite time or null, and the instant Date gives for ISO dates', () => {
  check(fc.property(timestamp, (text) => {
    const ts = parseIsoTimestamp(text);
    assert.ok(ts === null || Number.isFinite(ts));
  }));
  check(fc.property(fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (date) => {
    assert.equal(parseIsoTimestamp(date.toISOString()), date.getTime());
  }));
});
