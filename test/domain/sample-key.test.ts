import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIsoTimestamp, parseSampleKey } from '@dynamite/domain';

describe('parseIsoTimestamp', () => {
  const accepted: [string, string][] = [
    ['2015-07-28T13:15:50.631Z', '2015-07-28T13:15:50.631Z'],
    ['2015-07-28T13:15:50Z', '2015-07-28T13:15:50.000Z'],
    ['2015-07-28T13:15:50', '2015-07-28T13:15:50.000Z'], // no zone = UTC
    ['2015-07-28T13:15:50.6Z', '2015-07-28T13:15:50.600Z'],
    ['2015-07-28T13:15:50.631', '2015-07-28T13:15:50.631Z'],
    ['2015-07-28T15:15:50.631+02:00', '2015-07-28T13:15:50.631Z'],
    ['2015-07-28T15:15:50.631+0200', '2015-07-28T13:15:50.631Z'],
    ['2015-07-28T10:45:50.631-02:30', '2015-07-28T13:15:50.631Z'],
    ['2015-07-28T13:15:50.000000000Z', '2015-07-28T13:15:50.000Z'],
    ['2016-02-29T00:00:00Z', '2016-02-29T00:00:00.000Z'],
    ['2000-02-29T23:59:59Z', '2000-02-29T23:59:59.000Z'],
    ['2015-12-31T23:59:59.999Z', '2015-12-31T23:59:59.999Z'],
  ];
  for (const [text, expected] of accepted) {
    test(`accepts ${text}`, () => {
      assert.equal(parseIsoTimestamp(text), Date.parse(expected));
    });
  }

  test('keeps sub-millisecond digits so microsecond-apart samples stay ordered', () => {
    const a = parseIsoTimestamp('2015-07-28T13:15:50.631100Z')!;
    const b = parseIsoTimestamp('2015-07-28T13:15:50.631200Z')!;
    assert.ok(b > a);
    assert.equal(Math.floor(a), Date.parse('2015-07-28T13:15:50.631Z'));
  });

  test('years below 100 are not shifted to the 1900s', () => {
    const ms = parseIsoTimestamp('0050-03-01T00:00:00Z')!;
    assert.equal(new Date(ms).toISOString(), '0050-03-01T00:00:00.000Z');
  });

  const rejected = [
    '2015',
    '2015-07-28',
    '2015-07-28T13:15',
    '2015-07-28 13:15:50Z',
    '2015-07-28t13:15:50Z',
    '2015-07-28T13:15:50.Z',
    '2015-07-28T13:15:50.1234567890Z', // 10 fraction digits
    '2015-13-28T13:15:50Z',
    '2015-00-28T13:15:50Z',
    '2015-02-29T13:15:50Z', // not a leap year
    '1900-02-29T13:15:50Z',
    '2015-04-31T13:15:50Z',
    '2015-07-00T13:15:50Z',
    '2015-07-28T24:00:00Z',
    '2015-07-28T13:60:50Z',
    '2015-07-28T13:15:60Z',
    '2015-07-28T13:15:50+2',
    '2015-07-28T13:15:50+02',
    '2015-07-28T13:15:50+24:00',
    '2015-07-28T13:15:50+02:60',
    '2015-07-28T13:15:50ZZ',
    '+2015-07-28T13:15:50Z',
    '15-07-28T13:15:50Z',
    '1438089350631',
    'Tue Jul 28 2015 13:15:50 GMT',
    ' 2015-07-28T13:15:50Z',
    '',
  ];
  for (const text of rejected) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseIsoTimestamp(text), null);
    });
  }
});

describe('parseSampleKey', () => {
  const ts = '2015-07-28T13:15:50.631Z';
  const tsMs = Date.parse(ts);

  test('per-instance key: <base>/<type>/<uuid>/<metric_dir>/<timestamp>', () => {
    assert.deepEqual(parseSampleKey(`/metrics/webserver/88e9916e-2342/cpu_user/${ts}`, '/metrics'), {
      ok: true,
      sample: { kind: 'instance', serviceType: 'webserver', uuid: '88e9916e-2342', metricDir: 'cpu_user', tsKey: ts, ts: tsMs },
    });
  });

  test('aggregated key: <base>/<type>/<metric_dir>/<timestamp>', () => {
    assert.deepEqual(parseSampleKey(`/metrics/loadbalancer/response_time/${ts}`, '/metrics'), {
      ok: true,
      sample: { kind: 'aggregate', serviceType: 'loadbalancer', metricDir: 'response_time', tsKey: ts, ts: tsMs },
    });
  });

  test('a base path with a trailing slash or several levels works the same', () => {
    const a = parseSampleKey(`/metrics/web/cpu/${ts}`, '/metrics/');
    const b = parseSampleKey(`/a/b/web/cpu/${ts}`, '/a/b');
    assert.equal(a.ok && a.sample.kind, 'aggregate');
    assert.equal(b.ok && b.sample.serviceType, 'web');
  });

  const errors: [string, string, string][] = [
    ['outside_base', `/other/web/cpu/${ts}`, '/metrics'],
    ['outside_base', `/metricsx/web/cpu/${ts}`, '/metrics'], // a sibling sharing the prefix text
    ['outside_base', '/metrics', '/metrics'],
    ['bad_depth', `/metrics/web/${ts}`, '/metrics'],
    ['bad_depth', `/metrics/web/uuid/cpu/extra/${ts}`, '/metrics'],
    ['empty_segment', `/metrics/web//cpu/${ts}`, '/metrics'],
    ['empty_segment', '/metrics/web/cpu/', '/metrics'],
    ['empty_segment', `/metrics//web/cpu/${ts}`, '/metrics'],
    ['bad_timestamp', '/metrics/web/cpu/2015', '/metrics'],
    ['bad_timestamp', '/metrics/web/uuid/cpu/latest', '/metrics'],
    ['bad_timestamp', '/metrics/web/cpu/2015-07-28T13:15:50.631Zjunk', '/metrics'],
  ];
  for (const [reason, key, base] of errors) {
    test(`${reason}: ${key}`, () => {
      const result = parseSampleKey(key, base);
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.reason, reason);
        assert.ok(result.message.includes(key), `message names the key: ${result.message}`);
      }
    });
  }
});
