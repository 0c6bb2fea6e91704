import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSampleValue } from '@dynamite/domain';
import { policy } from './factory';

const plain = policy('p', { metric: 'cpu_user' });
const json = policy('p', { metric: 'response_time.time_backend_response.p95' });

describe('parseSampleValue, plain numbers (metric without a dot)', () => {
  const ok: [string, number][] = [
    ['29', 29],
    ['30.5', 30.5],
    ['-1e3', -1000],
    ['+4', 4],
    ['  42 \n', 42],
    ['.5', 0.5],
    ['5.', 5],
    ['1E-2', 0.01],
    ['0', 0],
  ];
  for (const [raw, value] of ok) {
    test(`${JSON.stringify(raw)} -> ${value}`, () => {
      assert.deepEqual(parseSampleValue(raw, plain), { ok: true, value });
    });
  }
  const bad: [string, string][] = [
    ['', 'not_a_number'],
    ['   ', 'not_a_number'],
    ['abc', 'not_a_number'],
    ['12abc', 'not_a_number'],
    ['0x10', 'not_a_number'],
    ['1_000', 'not_a_number'],
    ['1,5', 'not_a_number'],
    ['{"v": 1}', 'not_a_number'],
    ['NaN', 'not_finite'],
    ['nan', 'not_finite'],
    ['Infinity', 'not_finite'],
    ['-inf', 'not_finite'],
    ['1e999', 'not_finite'],
  ];
  for (const [raw, reason] of bad) {
    test(`${JSON.stringify(raw)} is rejected as ${reason}`, () => {
      const result = parseSampleValue(raw, plain);
      assert.equal(result.ok, false);
      if (!result.ok) assert.equal(result.reason, reason);
    });
  }
});

describe('parseSampleValue, JSON values (metric with a dot)', () => {
  test('flat dotted key, as the original read it', () => {
    assert.deepEqual(parseSampleValue('{"time_backend_response.p95": 12}', json), { ok: true, value: 12 });
  });
  test('nested path', () => {
    assert.deepEqual(parseSampleValue('{"time_backend_response": {"p95": 12.5}}', json), { ok: true, value: 12.5 });
  });
  test('the flat key wins over the nested path when both exist', () => {
    const raw = '{"time_backend_response.p95": 1, "time_backend_response": {"p95": 2}}';
    assert.deepEqual(parseSampleValue(raw, json), { ok: true, value: 1 });
  });
  test('a numeric string value is accepted (the original called float() on it)', () => {
    assert.deepEqual(parseSampleValue('{"time_backend_response.p95": " 17.25 "}', json), { ok: true, value: 17.25 });
  });
  test('other fields of the event are ignored', () => {
    const raw = '{"@timestamp":"2015-06-22T14:54:12.319Z","type":"haproxy","time_backend_response.p95":"311"}';
    assert.deepEqual(parseSampleValue(raw, json), { ok: true, value: 311 });
  });
  const bad: [string, string][] = [
    ['not json', 'bad_json'],
    ['{"time_backend_response.p95": 12', 'bad_json'],
    ['', 'bad_json'],
    ['{}', 'missing_key'],
    ['{"time_backend_response": {"p99": 1}}', 'missing_key'],
    ['{"time_backend_response": 5}', 'missing_key'],
    ['12', 'missing_key'],
    ['[12]', 'missing_key'],
    ['null', 'missing_key'],
    ['{"time_backend_response.p95": "fast"}', 'not_a_number'],
    ['{"time_backend_response.p95": null}', 'not_a_number'],
    ['{"time_backend_response.p95": true}', 'not_a_number'],
    ['{"time_backend_response": {"p95": {"v": 1}}}', 'not_a_number'],
    ['{"time_backend_response.p95": 1e999}', 'not_finite'],
    ['{"time_backend_response.p95": "NaN"}', 'not_finite'],
  ];
  for (const [raw, reason] of bad) {
    test(`${JSON.stringify(raw)} is rejected as ${reason}`, () => {
      const result = parseSampleValue(raw, json);
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.reason, reason);
        assert.ok(result.message.length > 0);
      }
    });
  }
  test('inherited properties are not keys', () => {
    const p = policy('p', { metric: 'x.constructor' });
    const result = parseSampleValue('{}', p);
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.reason, 'missing_key');
  });
});
