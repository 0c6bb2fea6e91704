import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { COMPRESSED_CONFIG_PREFIX, decodeStoredConfig, encodeStoredConfig } from '@dynamite/domain';

// The stored config stays the original's JSON while it fits; a larger one is stored gzipped in the same key.
describe('the stored config value', () => {
  const raw = { Dynamite: { Service: { web: { name_of_unit_file: 'web@.service', min_instance: 1 } } } };

  test('a config that fits is stored as its JSON, byte for byte what the original wrote', () => {
    assert.equal(encodeStoredConfig(raw), JSON.stringify(raw));
    assert.equal(decodeStoredConfig(JSON.stringify(raw)), JSON.stringify(raw));
  });

  test('a config over the limit is stored compressed and decodes to the same JSON', () => {
    const stored = encodeStoredConfig(raw, { plainLimit: 10 });
    assert.ok(stored.startsWith(COMPRESSED_CONFIG_PREFIX), stored);
    assert.equal(decodeStoredConfig(stored), JSON.stringify(raw));
  });

  test('the limit is on the JSON bytes: exactly at it stays plain, one byte over is compressed', () => {
    const bytes = Buffer.byteLength(JSON.stringify(raw));
    assert.equal(encodeStoredConfig(raw, { plainLimit: bytes }), JSON.stringify(raw));
    assert.ok(encodeStoredConfig(raw, { plainLimit: bytes - 1 }).startsWith(COMPRESSED_CONFIG_PREFIX));
  });

  test('a compressed value that does not decompress says so in one line', () => {
    assert.throws(() => decodeStoredConfig(`${COMPRESSED_CONFIG_PREFIX}bm90IGd6aXA=`),
      (err: Error) => /^the stored config is marked compressed \(dynamite-gzip-base64:\) but does not decompress: /.test(err.message) && !err.message.includes('\n'));
  });
});
