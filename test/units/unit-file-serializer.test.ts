import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeUnitOptions, serializeUnitOptions, unitHash, type UnitOption } from '@dynamite/unit-files';

const o = (section: string, name: string, value: string): UnitOption => ({ section, name, value });

const HELLO = [
  o('Unit', 'Description', 'Hello World'),
  o('Service', 'ExecStart', '/bin/bash -c "while true; do echo \\"Hello, world\\"; sleep 1; done"'),
];

test('serialization groups sections in order of first appearance with one blank line between', () => {
  const options = [o('Unit', 'Description', 'd'), o('Service', 'ExecStartPre', 'p'), o('Unit', 'After', 'a'), o('Unit', 'After', 'b'), o('Service', 'ExecStart', '1'), o('Service', 'ExecStart', '2')];
  assert.equal(serializeUnitOptions(options), '[Unit]\nDescription=d\nAfter=a\nAfter=b\n\n[Service]\nExecStartPre=p\nExecStart=1\nExecStart=2\n');
});

test('no options serialize to the empty string', () => {
  assert.equal(serializeUnitOptions([]), '');
});

test('hash vectors of spec 7.4', () => {
  assert.equal(unitHash([o('Service', 'ExecStart', '/bin/sleep 100')]), '1c6fb6f3684bafb0c173d8b8b957ceff031180c1');
  assert.equal(unitHash([o('Service', 'ExecStart', '/usr/bin/sleep 3000')]), '248b997d6becee1b835b7ec7d9c8e68d7dd24623');
  assert.equal(serializeUnitOptions(HELLO), '[Unit]\nDescription=Hello World\n\n[Service]\nExecStart=/bin/bash -c "while true; do echo \\"Hello, world\\"; sleep 1; done"\n');
  assert.equal(unitHash(HELLO), 'e55c0aeb44ba0b68004ceb8a200e685194448b45');
  assert.equal(unitHash([]), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
});

test('hashing is over the bytes as given: untrimmed values hash differently', () => {
  assert.notEqual(unitHash([o('Service', 'ExecStart', ' /bin/sleep 100')]), unitHash([o('Service', 'ExecStart', '/bin/sleep 100')]));
});

test('hashing handles multi-byte text and long input (several SHA-1 blocks)', () => {
  assert.equal(unitHash([o('Unit', 'Description', 'é'.repeat(100))]).length, 40);
  assert.notEqual(unitHash([o('Unit', 'Description', 'é')]), unitHash([o('Unit', 'Description', 'e')]));
});

test('normalize: grouped by section, values trimmed, empty values kept', () => {
  assert.deepEqual(normalizeUnitOptions([
    o('Unit', 'Description', '  a <b> & c  '),
    o('Service', 'ExecStart', '/bin/true'),
    o('Unit', 'After', 'network.target'),
    o('Service', 'Environment', ''),
  ]), [
    o('Unit', 'Description', 'a <b> & c'),
    o('Unit', 'After', 'network.target'),
    o('Service', 'ExecStart', '/bin/true'),
    o('Service', 'Environment', ''),
  ]);
});

test('normalize keeps a backslash-newline continuation inside a value', () => {
  const options = [o('Service', 'ExecStart', '/bin/sh -c \\\n  "echo hi"')];
  assert.deepEqual(normalizeUnitOptions(options), options);
});
