import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatConfigError, loadConfig } from '@dynamite/config-loader';
import { ROOT, lines, runDynamite } from '../config/support';

/**
 * The hostile unit-file corpus: one case a file in test/hostile/units/. Each is named by a one-service config
 * (`name_of_unit_file: <case>.service`) and loaded as `dynamite validate` loads it; it must give exactly the
 * error below (`{units}` is the corpus folder), or load with the number of options given. A unit file is
 * parsed with fleet's own rules (go-systemd), so what fleet accepts (a BOM, CRLF, NUL characters, an empty
 * file) is accepted here too.
 */

const UNITS = join(ROOT, 'test', 'hostile', 'units');
const temp = mkdtempSync(join(tmpdir(), 'dynamite-hostile-units-'));
after(() => rmSync(temp, { recursive: true, force: true }));

const at = 'Service.u.name_of_unit_file';
const EXPECTED: Record<string, { why: string; options?: number; error?: string }> = {
  'latin1-byte': { why: 'a Latin-1 "é" byte', error: `${at}: unit file {units}/latin1-byte.service is not UTF-8 text: byte 0xe9 at offset 20 (line 2, byte 14 of the line) does not start a valid UTF-8 character` },
  utf16: { why: 'a UTF-16 file', error: `${at}: unit file {units}/utf16.service is not UTF-8 text: byte 0xff at offset 0 (line 1, byte 1 of the line) does not start a valid UTF-8 character` },
  'overlong-slash': { why: 'an overlong encoding of "/" (C0 AF)', error: `${at}: unit file {units}/overlong-slash.service is not UTF-8 text: byte 0xc0 at offset 19 (line 2, byte 13 of the line) does not start a valid UTF-8 character` },
  'truncated-character': { why: 'the file ends inside a 3-byte character', error: `${at}: unit file {units}/truncated-character.service is not UTF-8 text: byte 0xe2 at offset 71 (line 6, byte 3 of the line) does not start a valid UTF-8 character` },
  'line-2048-bytes': { why: 'a line past systemd\'s 2048 bytes', error: `${at}: unit file {units}/line-2048-bytes.service cannot be parsed: line too long (max 2048 bytes)` },
  'line-2000-bytes': { why: 'a line just under it', options: 1 },
  'brackets-10000': { why: '10,000 "[" on one line', error: `${at}: unit file {units}/brackets-10000.service cannot be parsed: line too long (max 2048 bytes)` },
  'unterminated-section': { why: 'a section name without "]"', error: `${at}: unit file {units}/unterminated-section.service cannot be parsed: unable to find end of section` },
  'garbage-after-section': { why: 'text after "]"', error: `${at}: unit file {units}/garbage-after-section.service cannot be parsed: found garbage after section name : [116 114 97 105 108 105 110 103]` },
  'option-name-newline': { why: 'a newline inside an option name', error: `${at}: unit file {units}/option-name-newline.service cannot be parsed: unexpected newline encountered while parsing option name` },
  'option-without-value-at-eof': { why: 'the file ends inside an option name', error: `${at}: unit file {units}/option-without-value-at-eof.service cannot be parsed: EOF` },
  crlf: { why: 'CRLF line ends', options: 2 },
  bom: { why: 'a UTF-8 byte order mark', options: 2 },
  'nul-bytes': { why: 'NUL characters inside a value', options: 1 },
  'continuations-10000': { why: 'one value continued over 10,000 lines', options: 1 },
  'sections-10000': { why: '10,000 sections', options: 10_000 },
  'comment-continuation-to-eof': { why: 'a comment continued to the end of the file', options: 0 },
  empty: { why: 'an empty file', options: 0 },
};

const files = readdirSync(UNITS).filter((f) => f.endsWith('.service')).map((f) => f.slice(0, -'.service'.length)).sort();

function configFor(name: string): string {
  const file = join(temp, `${name}.yaml`);
  writeFileSync(file, `Dynamite:\n  ETCD:\n    application_base_path: /services\n    metrics_base_path: /metrics\n  Service:\n    u:\n      name_of_unit_file: ${name}.service\n`);
  return file;
}

test('every case file has an expectation, and every expectation a file', () => {
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
});

describe('hostile unit files', () => {
  for (const name of files) {
    const expected = EXPECTED[name];
    if (!expected) continue;
    test(`${name}: ${expected.why}`, () => {
      const result = loadConfig({ configFile: configFor(name), serviceFolders: [UNITS] });
      if (expected.error !== undefined) {
        assert.equal(result.ok, false);
        if (!result.ok) assert.deepEqual(result.errors.map(formatConfigError), [expected.error.replaceAll('{units}', UNITS)]);
      } else {
        assert.ok(result.ok, result.ok ? '' : result.errors.map(formatConfigError).join('\n'));
        if (result.ok) assert.equal(result.unitFiles.get(`${name}.service`)!.options.length, expected.options);
      }
    });
  }
});

test('through the real binary: a unit file that is not UTF-8 is one error line, exit 2, no stack trace', async () => {
  const run = await runDynamite(['validate', '-c', configFor('latin1-byte'), '-s', UNITS], { timeoutMs: 30_000 });
  assert.equal(run.code, 2);
  assert.equal(run.stdout, '');
  assert.deepEqual(lines(run.stderr), [`error: ${EXPECTED['latin1-byte']!.error!.replaceAll('{units}', UNITS)}`]);
});
