import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UnitFileParseError, parseUnitFile, serializeUnitOptions, type UnitOption } from '@dynamite/unit-files';
import { check, hostileText } from './support';

/**
 * The unit-file parser (go-systemd's rules) throws nothing but UnitFileParseError, whatever the text; options
 * it can represent come back unchanged through serialize and parse; and fleet's normalization (serialize, then
 * parse) changes nothing the second time.
 */

const unitLine = fc.oneof(
  fc.constantFrom('[Unit]', '[Service]', '[X-Fleet]', '[', ']', '[Unit', 'Description=x', 'ExecStart=/bin/true \\', '=', 'A=', '# c \\', '; c', '', ' ', '\r', 'K = v '),
  hostileText(30),
);
const unitText = fc.oneof(
  hostileText(300),
  fc.array(unitLine, { maxLength: 40 }).map((lines) => lines.join('\n')),
  fc.array(unitLine, { maxLength: 40 }).map((lines) => lines.join('\r\n')),
);

test('parseUnitFile throws only UnitFileParseError, for any text', () => {
  check(fc.property(unitText, (text) => {
    try {
      const options = parseUnitFile(text);
      for (const o of options) assert.ok(typeof o.section === 'string' && typeof o.name === 'string' && typeof o.value === 'string');
    } catch (err) {
      if (!(err instanceof UnitFileParseError)) throw err;
      assert.doesNotMatch(err.message, /[\n\r]/);
    }
  }));
});

// Options go-systemd can write and read back: a section name without "]" or a line break; an option name
// without "=" or a line break, not starting like a section or a comment, and without surrounding space; a
// value without a line break, without surrounding space, and not ending in "\" (a continuation). Every line
// stays under systemd's 2048 bytes.
const word = (chars: string, maxLength: number) =>
  fc.string({ minLength: 1, maxLength, unit: fc.oneof(fc.constantFrom(...chars.split('')), fc.constantFrom('é', '→', '😀')) });
const option: fc.Arbitrary<UnitOption> = fc.record({
  section: fc.oneof(fc.constantFrom('Unit', 'Service', 'X-Fleet', 'Install'), word('abcXYZ09 -_.', 20)),
  name: word('abcXYZ09-_.', 20).filter((n) => !/^[[#;]/.test(n)),
  value: fc.oneof(fc.constant(''), word('abc XYZ09-_./=$%\'"[]#;\\', 80).map((v) => v.trim()).filter((v) => !v.endsWith('\\'))),
}, { noNullPrototype: true });

test('parse(serialize(options)) gives the options back', () => {
  check(fc.property(fc.array(option, { maxLength: 20 }), (options) => {
    // Serialize groups options by section in order of first appearance: that order is the one read back.
    const sections = [...new Set(options.map((o) => o.section))];
    const grouped = sections.flatMap((s) => options.filter((o) => o.section === s));
    assert.deepEqual(parseUnitFile(serializeUnitOptions(options)), grouped);
  }));
});

// What fleet stores is `normalize(options)` = parse(serialize(options)), and what it returns is that again: the
// normalized form must be a fixed point. (The options read from a file need not be one: a value ending in "\"
// on a CRLF line is not a continuation in the file, but is one once serialized with LF, so fleet stores it
// merged with the next line, as go-systemd does.)
test('fleet\'s normalization is stable: normalize(normalize(options)) = normalize(options) for any text that parses', () => {
  const normalize = (options: UnitOption[]): UnitOption[] | string => {
    try {
      return parseUnitFile(serializeUnitOptions(options));
    } catch (err) {
      if (err instanceof UnitFileParseError) return `UnitFileParseError: ${err.message}`;
      throw err;
    }
  };
  check(fc.property(unitText, (text) => {
    let read: UnitOption[];
    try {
      read = parseUnitFile(text);
    } catch (err) {
      if (err instanceof UnitFileParseError) return;
      throw err;
    }
    const once = normalize(read);
    if (typeof once === 'string') return; // fleet refuses these options (a line too long once serialized)
    assert.deepEqual(normalize(once), once);
  }));
});
