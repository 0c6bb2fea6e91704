import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_FILE_MAX_BYTES, CONFIG_JSON_MAX_BYTES, STORED_CONFIG_MAX_BYTES, encodeStoredConfig, formatConfigError, parseConfig, parseConfigJson } from '@dynamite/domain';
import { loadConfig } from '@dynamite/config-loader';
import { UNIT_FILE_MAX_BYTES } from '@dynamite/unit-files';
import { FIXTURES, lines, runDynamite } from '../config/support';

/**
 * Hostile inputs that cannot be fixture files: devices, FIFOs, sparse files of gigabytes, documents of tens of
 * megabytes. Each is made here, in a temporary folder, and must give one clear error naming the file and the
 * limit, at once: without reading a device or a sparse file, and without waiting for a FIFO's writer.
 */

const temp = mkdtempSync(join(tmpdir(), 'dynamite-hostile-files-'));
after(() => rmSync(temp, { recursive: true, force: true }));
const UNITS = join(FIXTURES, 'units');
const VALID = readFileSync(join(FIXTURES, 'valid.yaml'), 'utf8');
const LIMIT = 'at most 1048576 bytes (1 MiB) are read';
const CONFIG_LIMIT = 'at most 16777216 bytes (16 MiB) are read';
// A hang is a failure, not a stuck suite: the run is killed and its test fails.
const timeout = 60_000;
const run = (args: string[]) => runDynamite(args, { timeoutMs: 30_000 });

function expectOneError(run: { code: number | null; stdout: string; stderr: string }, line: string): void {
  assert.deepEqual(lines(run.stderr), [line]);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, '');
}

describe('config files that are not regular files, or too large', () => {
  test('-c /dev/zero: a character device, refused before a byte is read', { timeout }, async () => {
    expectOneError(await run(['validate', '-c', '/dev/zero']), 'error: /dev/zero: config file is a character device, not a regular file');
  });

  test('-c a FIFO with no writer: refused at once, no hang', { timeout }, async () => {
    const fifo = join(temp, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    expectOneError(await run(['validate', '-c', fifo]), `error: ${fifo}: config file is a FIFO, not a regular file`);
  });

  test('-c a sparse 2 GiB file: its size is enough to refuse it', { timeout }, async () => {
    const file = join(temp, 'sparse.yaml');
    writeFileSync(file, '');
    truncateSync(file, 2 * 1024 ** 3);
    expectOneError(await run(['validate', '-c', file]), `error: ${file}: config file is 2147483648 bytes; ${CONFIG_LIMIT}`);
  });

  test('a config one byte over 16 MiB', () => {
    const file = join(temp, 'over.yaml');
    writeFileSync(file, padded(VALID, CONFIG_FILE_MAX_BYTES + 1));
    const result = loadConfig({ configFile: file, serviceFolders: [UNITS] });
    assert.deepEqual(result.ok ? [] : result.errors.map(formatConfigError), [`${file}: config file is ${CONFIG_FILE_MAX_BYTES + 1} bytes; ${CONFIG_LIMIT}`]);
  });

  test('a config of exactly 16 MiB is read', () => {
    const file = join(temp, 'exact.yaml');
    writeFileSync(file, padded(VALID, CONFIG_FILE_MAX_BYTES));
    const result = loadConfig({ configFile: file, serviceFolders: [UNITS] });
    assert.ok(result.ok, result.ok ? '' : result.errors.map(formatConfigError).join('\n'));
  });
});

describe('unit files that are not regular files, or too large', () => {
  const config = (folder: string) => {
    const file = join(folder, 'dynamite.yaml');
    writeFileSync(file, 'Dynamite:\n  ETCD:\n    application_base_path: /services\n    metrics_base_path: /metrics\n  Service:\n    lb:\n      name_of_unit_file: lb.service\n');
    return file;
  };
  const at = 'Service.lb.name_of_unit_file';

  test('a sparse 2 GiB unit file: refused by its size', { timeout }, async () => {
    const folder = join(temp, 'sparse-unit');
    mkdirSync(folder);
    writeFileSync(join(folder, 'lb.service'), '');
    truncateSync(join(folder, 'lb.service'), 2 * 1024 ** 3);
    expectOneError(
      await run(['validate', '-c', config(folder), '-s', folder]),
      `error: ${at}: unit file ${join(folder, 'lb.service')} is 2147483648 bytes; ${LIMIT}`,
    );
  });

  test('a unit file one byte over 1 MiB, and one of exactly 1 MiB', () => {
    const folder = join(temp, 'big-unit');
    mkdirSync(folder);
    const file = config(folder);
    writeFileSync(join(folder, 'lb.service'), padded('[Service]\nExecStart=/bin/true\n', UNIT_FILE_MAX_BYTES + 1));
    const over = loadConfig({ configFile: file, serviceFolders: [folder] });
    assert.deepEqual(over.ok ? [] : over.errors.map(formatConfigError), [`${at}: unit file ${join(folder, 'lb.service')} is ${UNIT_FILE_MAX_BYTES + 1} bytes; ${LIMIT}`]);
    writeFileSync(join(folder, 'lb.service'), padded('[Service]\nExecStart=/bin/true\n', UNIT_FILE_MAX_BYTES));
    assert.ok(loadConfig({ configFile: file, serviceFolders: [folder] }).ok);
  });

  test('a unit file that is a FIFO: refused at once, no hang', { timeout }, async () => {
    const folder = join(temp, 'fifo-unit');
    mkdirSync(folder);
    execFileSync('mkfifo', [join(folder, 'lb.service')]);
    expectOneError(await run(['validate', '-c', config(folder), '-s', folder]), `error: ${at}: unit file ${join(folder, 'lb.service')} is a FIFO, not a regular file`);
  });

  test('a unit file that links to /dev/zero: a character device', { timeout }, async () => {
    const folder = join(temp, 'zero-unit');
    mkdirSync(folder);
    symlinkSync('/dev/zero', join(folder, 'lb.service'));
    expectOneError(await run(['validate', '-c', config(folder), '-s', folder]), `error: ${at}: unit file ${join(folder, 'lb.service')} is a character device, not a regular file`);
  });
});

describe('documents too large to keep or to store in etcd', () => {
  const expected = (part: string, where = 'the limit is passed in this part') =>
    `${part}: the config is over 32 MiB (${CONFIG_JSON_MAX_BYTES} bytes) as JSON; ${where} (an alias counts once for every use)`;

  test('a 50 MB string beside the root', () => {
    const result = parseConfig(`junk: "${'x'.repeat(50_000_000)}"\n${VALID}`);
    assert.deepEqual(result.ok ? [] : result.errors.map(formatConfigError), [expected('junk')]);
  });

  test('the same in the copy read back from etcd (parseConfigJson)', () => {
    const result = parseConfigJson(JSON.stringify({ junk: 'x'.repeat(50_000_000), Dynamite: { Service: {} } }));
    assert.deepEqual(result.ok ? [] : result.errors.map(formatConfigError), [expected('junk')]);
  });

  test('text that grows when written as JSON: 5.7 million control characters are 34 MB of \\u escapes', () => {
    const result = parseConfigJson(JSON.stringify({ junk: '\x01'.repeat(5_700_000), Dynamite: { Service: {} } }));
    assert.deepEqual(result.ok ? [] : result.errors.map(formatConfigError), [expected('junk', 'this is its largest part')]);
  });

  test('2 MB of random text: over 1 MiB even compressed, so etcd (RESOURCE_EXHAUSTED) could not store it', () => {
    const junk = randomBytes(1_500_000).toString('base64');
    const result = parseConfig(`junk: "${junk}"\n${VALID}`);
    const errors = result.ok ? [] : result.errors.map(formatConfigError);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /^junk: the config is \d+ bytes as JSON and still \d+ compressed, over the 1 MiB \(1048576 bytes\) it may take in etcd \(whose requests are limited to 1.5 MiB by default\); this is its largest part$/);
  });

  test('2 MB of repetitive text is over 1 MiB as JSON but stored compressed: accepted', () => {
    const result = parseConfig(`junk: "${'ab'.repeat(1_000_000)}"\n${VALID}`);
    assert.ok(result.ok, result.ok ? '' : result.errors.map(formatConfigError).join('\n'));
    assert.ok(encodeStoredConfig(result.config.raw).length <= STORED_CONFIG_MAX_BYTES);
  });

  test('a JSON copy nested 100,000 deep: an error, not a stack overflow', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const result = parseConfigJson(`{"deep": ${deep}, "Dynamite": {"Service": {}}}`);
    assert.deepEqual(result.ok ? [] : result.errors.map(formatConfigError), [
      'deep: nests lists and mappings more than 100 levels deep, counting what aliases expand to (an alias inside its own anchor nests without end); the config could not be stored in etcd as JSON',
    ]);
  });
});

describe('configs whose checks would compare everything with everything', () => {
  const head = 'Dynamite:\n  ETCD: {application_base_path: /services, metrics_base_path: /metrics}\n';
  const policyEntry = (name: string) =>
    `    ${name}: {service_type: w, metric: cpu, comparative_operator: gt, threshold: 1, period: 1, period_unit: second, cooldown_period: 1, cooldown_period_unit: second}\n`;

  test('10,001 services and 20,001 policies: the counts are the errors, and no entry is compared with another', () => {
    let text = `${head}  Service:\n`;
    for (let i = 0; i < 10_001; i++) text += `    s${i}: {name_of_unit_file: s${i}@.service, max_instance: 1, base_instance_prefix_number: ${i + 1}, scale_up_policy: {ScalingPolicy: px${i}}}\n`;
    text += '  ScalingPolicy:\n';
    for (let i = 0; i < 20_001; i++) text += policyEntry(`p${i}`);
    const result = parseConfig(text);
    assert.deepEqual(result.ok ? [] : result.errors.map(formatConfigError), [
      'ScalingPolicy: declares 20001 policies; at most 20000 are allowed',
      'Service: declares 10001 services; at most 10000 are allowed',
    ]);
  });

  test('1,000 services naming 2,000 unknown policies among 1,000: each reported, the first 20 with a suggestion', () => {
    let text = `${head}  Service:\n`;
    for (let i = 0; i < 1000; i++) {
      text += `    s${i}: {name_of_unit_file: s${i}@.service, max_instance: 1, base_instance_prefix_number: ${i + 1}, ` +
        `scale_up_policy: {ScalingPolicy: px${i}}, scale_down_policy: {ScalingPolicy: py${i}}}\n`;
    }
    text += '  ScalingPolicy:\n';
    for (let i = 0; i < 1000; i++) text += policyEntry(`p${i}`);
    const result = parseConfig(text);
    const errors = result.ok ? [] : result.errors.map(formatConfigError);
    assert.equal(errors.filter((e) => / unknown policy "p[xy]\d+"/.test(e)).length, 2000);
    assert.equal(errors.filter((e) => e.includes('did you mean')).length, 20);
  });

  test('90,000 unknown attached services in one list: each reported, the first 20 with a suggestion', () => {
    let text = `${head}  Service:\n`;
    for (let i = 0; i < 999; i++) text += `    s${i}: {name_of_unit_file: s${i}.service}\n`;
    text += `    web: {name_of_unit_file: web.service, attached_service: [${Array.from({ length: 90_000 }, (_, i) => `a${i}`).join(',')}]}\n`;
    const result = parseConfig(text);
    const errors = result.ok ? [] : result.errors.map(formatConfigError);
    assert.equal(errors.length, 90_000);
    assert.ok(errors.every((e) => /^Service\.web\.attached_service\[\d+\]: unknown service "a\d+"/.test(e)));
    assert.equal(errors.filter((e) => e.includes('did you mean')).length, 20);
  });
});

/** `text` followed by comment lines (`#` in YAML and in unit files) that bring it to exactly `bytes` bytes. */
function padded(text: string, bytes: number): string {
  const head = `${text}\n`;
  const line = `#${'x'.repeat(98)}\n`;
  let size = Buffer.byteLength(head);
  const lines = Math.max(0, Math.floor((bytes - size) / line.length) - 1);
  size += lines * line.length;
  const out = head + line.repeat(lines);
  const rest = bytes - size;
  return rest === 0 ? out : rest === 1 ? `${out}\n` : `${out}#${'x'.repeat(rest - 2)}\n`;
}
