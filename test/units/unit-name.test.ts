import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unitNameInfo, validateUnitName } from '@dynamite/unit-files';

test('name anatomy of an instance with several @', () => {
  const info = unitNameInfo('foo@bar@baz.service');
  assert.equal(info.name, 'foo@bar@baz');
  assert.equal(info.prefix, 'foo');
  assert.equal(info.instance, 'bar@baz');
  assert.equal(info.template, 'foo@.service');
  assert.equal(info.suffix, 'service');
  assert.equal(info.isInstance, true);
  assert.equal(info.isTemplate, false);
});

test('the prefix may contain dots; the suffix is after the last dot', () => {
  const info = unitNameInfo('foo.1@2.service');
  assert.equal(info.prefix, 'foo.1');
  assert.equal(info.instance, '2');
});

test('a template has an @ and an empty instance', () => {
  const info = unitNameInfo('web@.service');
  assert.equal(info.isTemplate, true);
  assert.equal(info.isInstance, false);
  assert.equal(info.template, 'web@.service');
  assert.equal(info.prefix, 'web');
});

test('a plain name is neither template nor instance', () => {
  const info = unitNameInfo('hello.service');
  assert.deepEqual(info, { fullName: 'hello.service', name: 'hello', prefix: 'hello', instance: '', suffix: 'service', template: '', isTemplate: false, isInstance: false });
});

test('name validation messages, in fleet order', () => {
  const cases: Array<[string, string]> = [
    ['', 'unit name cannot be empty'],
    [`${'a'.repeat(250)}.service`, 'unit name exceeds maximum length (256)'],
    ['foo', 'unit name must contain "."'],
    ['foo.', 'unit name cannot end in "."'],
    ['foo.bar', 'invalid unit type: "bar"'],
    ['foo.Service', 'invalid unit type: "Service"'],
    ['foo@1.mount', 'invalid unit type for template: "mount"'],
    ['foo bar.service', "invalid character ' ' in unit name"],
    ['a/b.service', "invalid character '/' in unit name"],
    ['a\nb.service', "invalid character '\\n' in unit name"],
    ["it's.service", "invalid character '\\'' in unit name"],
    ['café.service', "invalid character 'é' in unit name"],
    ['@foo.service', 'unit name cannot start in "@"'],
    ['foo.b"r', 'invalid unit type: "b\\"r"'],
  ];
  for (const [name, message] of cases) assert.equal(validateUnitName(name), message, name);
});

test('256 bytes are allowed, 257 are not (bytes, not characters)', () => {
  assert.equal(validateUnitName(`${'a'.repeat(248)}.service`), null);
  assert.equal(validateUnitName(`${'a'.repeat(249)}.service`), 'unit name exceeds maximum length (256)');
  assert.equal(validateUnitName(`${'é'.repeat(125)}.service`), 'unit name exceeds maximum length (256)');
});

test('quirky names fleet accepts', () => {
  for (const name of ['.service', 'a..service', 'a@b@c.service', 'foo.service.service', 'a:b\\c.service', 'foo@.target', 'web@8080.service', 'x.socket', 'y.timer']) {
    assert.equal(validateUnitName(name), null, name);
  }
});
