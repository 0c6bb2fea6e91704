import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnitFile, UnitFileParseError, type UnitOption } from '@dynamite/unit-files';

const o = (section: string, name: string, value: string): UnitOption => ({ section, name, value });

function parseError(text: string): string {
  try {
    parseUnitFile(text);
  } catch (err) {
    assert.ok(err instanceof UnitFileParseError, 'a UnitFileParseError');
    return err.message;
  }
  assert.fail('expected a parse error');
}

test('parses sections and options in file order, values trimmed', () => {
  assert.deepEqual(parseUnitFile('[Unit]\nDescription=  Hello World  \n\n[Service]\nExecStart=/bin/sleep 100\n'), [
    o('Unit', 'Description', 'Hello World'),
    o('Service', 'ExecStart', '/bin/sleep 100'),
  ]);
});

test('a final newline is optional', () => {
  assert.deepEqual(parseUnitFile('[Service]\nExecStart=/bin/true'), [o('Service', 'ExecStart', '/bin/true')]);
});

test('CRLF line ends parse like LF', () => {
  const lf = '[Unit]\nDescription=x\n\n[Service]\nExecStart=/bin/true\n';
  assert.deepEqual(parseUnitFile(lf.replace(/\n/g, '\r\n')), parseUnitFile(lf));
});

test('the option name is trimmed and may contain spaces around =', () => {
  assert.deepEqual(parseUnitFile('[Service]\n  ExecStart   =   /bin/true  \n'), [o('Service', 'ExecStart', '/bin/true')]);
});

test('a continuation keeps the backslash and the newline, and the next line with its leading spaces', () => {
  assert.deepEqual(parseUnitFile('[Service]\nExecStart=/bin/sh -c \\\n    "echo hi"\nUser=core\n'), [
    o('Service', 'ExecStart', '/bin/sh -c \\\n    "echo hi"'),
    o('Service', 'User', 'core'),
  ]);
});

test('comment-looking lines inside a continuation belong to the value', () => {
  assert.deepEqual(parseUnitFile('[Service]\nExecStart=a \\\n# not a comment\n'), [o('Service', 'ExecStart', 'a \\\n# not a comment')]);
});

test('a blank line ends a continuation and the trailing backslash stays', () => {
  assert.deepEqual(parseUnitFile('[Service]\nExecStart=a \\\n\nUser=x\n'), [o('Service', 'ExecStart', 'a \\'), o('Service', 'User', 'x')]);
});

test('a continuation at the end of the file ends the value', () => {
  assert.deepEqual(parseUnitFile('[Service]\nExecStart=a \\'), [o('Service', 'ExecStart', 'a \\')]);
});

test('# and ; comments are skipped; a comment ending in backslash swallows the next line', () => {
  assert.deepEqual(parseUnitFile('[Unit]\n# comment\n; other\nA=1\n# cont \\\nB=swallowed\n# cont with a space \\ \nC=swallowed\nD=4\n'), [
    o('Unit', 'A', '1'),
    o('Unit', 'D', '4'),
  ]);
});

test('text before the first section is ignored, but a [ there starts a section', () => {
  assert.deepEqual(parseUnitFile('This=Ignored\nnonsense line\n[Unit]\nA=1\n'), [o('Unit', 'A', '1')]);
  assert.deepEqual(parseUnitFile('junk [X]\nA=1\n'), [o('X', 'A', '1')]);
});

test('a comment before the first section with a continuation swallows the next line', () => {
  assert.deepEqual(parseUnitFile('# \\\n[Hidden]\nA=1\n[Unit]\nB=2\n'), [o('Unit', 'B', '2')]);
});

test('[Install] and any other section are accepted', () => {
  assert.deepEqual(parseUnitFile('[Install]\nWantedBy=multi-user.target\n[X-Fleet]\nGlobal=true\n'), [
    o('Install', 'WantedBy', 'multi-user.target'),
    o('X-Fleet', 'Global', 'true'),
  ]);
});

test('duplicates stay separate options in file order; empty values are ""', () => {
  assert.deepEqual(parseUnitFile('[Service]\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n'), [
    o('Service', 'Environment', 'A=1'),
    o('Service', 'Environment', ''),
    o('Service', 'Environment', 'B=2'),
  ]);
});

test('no inline comments and no quote interpretation', () => {
  assert.deepEqual(parseUnitFile('[Service]\nExecStart=/bin/echo 1 # x\nEnvironment="A=1" "B=2"\n'), [
    o('Service', 'ExecStart', '/bin/echo 1 # x'),
    o('Service', 'Environment', '"A=1" "B=2"'),
  ]);
});

test('an empty section produces nothing; sections may repeat', () => {
  assert.deepEqual(parseUnitFile('[Unit]\n[Service]\nA=1\n[Unit]\nB=2\n'), [o('Service', 'A', '1'), o('Unit', 'B', '2')]);
  assert.deepEqual(parseUnitFile(''), []);
});

test('a section name may contain newlines and anything but ]', () => {
  assert.deepEqual(parseUnitFile('[a\nb c]\nA=1\n'), [o('a\nb c', 'A', '1')]);
});

test('a line without = inside a section is an error', () => {
  assert.equal(parseError('[Unit]\nbogus line\nA=1\n'), 'unexpected newline encountered while parsing option name');
});

test('an option name cut by the end of the file is EOF', () => {
  assert.equal(parseError('[Unit]\nbogus'), 'EOF');
});

test('garbage after ] is an error naming the bytes', () => {
  assert.equal(parseError('[Serv]ice]\nA=1\n'), 'found garbage after section name : [105 99 101 93]');
});

test('a missing ] is an error', () => {
  assert.equal(parseError('[Unit\nA=1\n'), 'unable to find end of section');
});

test('a line of 2048 bytes or more is too long; 2047 is fine', () => {
  const line = (n: number) => `A=${'x'.repeat(n - 2)}`;
  assert.deepEqual(parseUnitFile(`[Unit]\n${line(2047)}\n`).length, 1);
  assert.equal(parseError(`[Unit]\n${line(2048)}\n`), 'line too long (max 2048 bytes)');
  assert.equal(parseError(`[Unit]\n${line(5000)}\n`), 'line too long (max 2048 bytes)');
});

test('whitespace-only values are empty, Go whitespace rules (NBSP trimmed, BOM kept)', () => {
  assert.deepEqual(parseUnitFile('[Unit]\nA=   \nB=\u00a0x\u00a0\nC=\ufeffy\n'), [o('Unit', 'A', ''), o('Unit', 'B', 'x'), o('Unit', 'C', '\ufeffy')]);
});

test('the line length check only sees what Go\'s 4096-byte read buffer holds (fleet\'s approximate limit)', () => {
  const line = (name: string, length: number) => `${name}=${'x'.repeat(length - name.length - 1)}\n`;
  // Two 1500-byte lines leave 1089 buffered bytes when the third line starts: below 2048, so no check happens
  // before its value is read in one go, and a 3002-byte line passes. The same line first in the file fails.
  const passing = `[Unit]\n${line('A', 1499)}${line('B', 1499)}${line('C', 3001)}`;
  assert.equal(parseUnitFile(passing).length, 3);
  assert.equal(parseError(`[Unit]\n${line('C', 3001)}`), 'line too long (max 2048 bytes)');
});
