import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, loadConfigFromObject, type LoadResult } from '@dynamite/config-loader';
import { formatConfigError } from '@dynamite/domain';

const temp = mkdtempSync(join(tmpdir(), 'dynamite-config-loader-'));
after(() => rmSync(temp, { recursive: true, force: true }));

const CONFIG = (pathList: string[]) => `
Dynamite:
  ServiceFiles:
    PathList: [${pathList.map((p) => JSON.stringify(p)).join(', ')}]
  ETCD: {application_base_path: /services, metrics_base_path: /metrics}
  Service:
    web:
      name_of_unit_file: web@.service
      max_instance: 2
      base_instance_prefix_number: 8080
      attached_service: [web_disc]
    web_disc:
      name_of_unit_file: web_disc@.service
      type: attached_service
    lb:
      name_of_unit_file: lb.service
`;
const UNIT = (what: string) => `[Unit]\nDescription=${what}\n\n[Service]\nExecStart=/bin/true\n`;

let counter = 0;
/** A fresh project folder: `files` maps relative paths to contents. */
function project(files: Record<string, string>): string {
  const dir = join(temp, `p${++counter}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function errorsOf(result: LoadResult): string[] {
  if (result.ok) assert.fail('expected errors');
  return result.errors.map(formatConfigError);
}

describe('the config file', () => {
  test('missing: one error naming the file', () => {
    const dir = project({});
    assert.deepEqual(errorsOf(loadConfig({ configFile: 'nope.yaml', cwd: dir })), [`nope.yaml: config file not found (${join(dir, 'nope.yaml')})`]);
    assert.deepEqual(errorsOf(loadConfig({ configFile: join(dir, 'nope.yaml') })), [`${join(dir, 'nope.yaml')}: config file not found`]);
  });

  test('a folder instead of a file', () => {
    const dir = project({ 'sub/x': '' });
    assert.deepEqual(errorsOf(loadConfig({ configFile: join(dir, 'sub') })), [`${join(dir, 'sub')}: is a folder, not a config file`]);
  });

  test('YAML syntax errors name the file as given, with line and column', () => {
    const dir = project({ 'c.yaml': 'Dynamite:\n  Service: [\n' });
    assert.deepEqual(errorsOf(loadConfig({ configFile: 'c.yaml', cwd: dir })), ['c.yaml:3:1: YAML syntax error: deficient indentation']);
  });
});

describe('service folders', () => {
  test('PathList resolves against cwd, -s folders are added after it, the same folder is searched once', () => {
    const dir = project({
      'c.yaml': CONFIG(['units']),
      'units/web@.service': UNIT('web'),
      'units/web_disc@.service': UNIT('disc'),
      'more/lb.service': UNIT('lb'),
    });
    const result = loadConfig({ configFile: 'c.yaml', cwd: dir, serviceFolders: ['more', join(dir, 'units'), './units/'] });
    if (!result.ok) assert.fail(result.errors.map(formatConfigError).join('\n'));
    assert.deepEqual(result.config.serviceFolders, [join(dir, 'units'), join(dir, 'more')]);
    assert.deepEqual([...result.unitFiles.keys()], ['web@.service', 'web_disc@.service', 'lb.service']);
    const lb = result.unitFiles.get('lb.service')!;
    assert.deepEqual(lb, {
      name: 'lb.service',
      path: join(dir, 'more', 'lb.service'),
      text: UNIT('lb'),
      options: [
        { section: 'Unit', name: 'Description', value: 'lb' },
        { section: 'Service', name: 'ExecStart', value: '/bin/true' },
      ],
    });
  });

  test('a folder that does not exist is named by where it was given', () => {
    const dir = project({ 'c.yaml': CONFIG(['units', 'gone']), 'units/x': '' });
    assert.deepEqual(errorsOf(loadConfig({ configFile: 'c.yaml', cwd: dir, serviceFolders: ['also-gone'] })), [
      `ServiceFiles.PathList[1]: folder "gone" (${join(dir, 'gone')}) does not exist`,
      `--service_folder: folder "also-gone" (${join(dir, 'also-gone')}) does not exist`,
    ]);
  });

  test('a file where a folder should be', () => {
    const dir = project({ 'c.yaml': CONFIG(['file']), file: 'x' });
    assert.deepEqual(errorsOf(loadConfig({ configFile: 'c.yaml', cwd: dir })), [`ServiceFiles.PathList[0]: "file" (${join(dir, 'file')}) is not a folder`]);
  });

  test('the same file name in two folders is an error naming both paths', () => {
    const dir = project({
      'c.yaml': CONFIG(['a', 'b']),
      'a/web@.service': UNIT('web'),
      'a/web_disc@.service': UNIT('disc'),
      'a/lb.service': UNIT('lb a'),
      'b/lb.service': UNIT('lb b'),
    });
    assert.deepEqual(errorsOf(loadConfig({ configFile: 'c.yaml', cwd: dir })), [
      `ServiceFiles.PathList[1]: unit file "lb.service" is in two folders: ${join(dir, 'a', 'lb.service')} and ${join(dir, 'b', 'lb.service')}`,
    ]);
  });

  test('sub-folders in a service folder are skipped', () => {
    const dir = project({
      'c.yaml': CONFIG(['u']),
      'u/web@.service': UNIT('web'),
      'u/web_disc@.service': UNIT('disc'),
      'u/lb.service': UNIT('lb'),
      'u/lb.service.d/override.conf': 'x',
    });
    assert.equal(loadConfig({ configFile: 'c.yaml', cwd: dir }).ok, true);
  });
});

describe('unit files', () => {
  test('every service\'s unit file must be found, attached ones too', () => {
    const dir = project({ 'c.yaml': CONFIG(['u']), 'u/web@.service': UNIT('web') });
    assert.deepEqual(errorsOf(loadConfig({ configFile: 'c.yaml', cwd: dir })), [
      `Service.web_disc.name_of_unit_file: unit file "web_disc@.service" not found in ${join(dir, 'u')}`,
      `Service.lb.name_of_unit_file: unit file "lb.service" not found in ${join(dir, 'u')}`,
    ]);
  });

  test('with no folder at all, the error says how to give one', () => {
    const dir = project({ 'c.yaml': CONFIG([]) });
    const errors = errorsOf(loadConfig({ configFile: 'c.yaml', cwd: dir }));
    assert.equal(errors.length, 3);
    assert.equal(
      errors[0],
      'Service.web.name_of_unit_file: unit file "web@.service" not found: no service folders are given (list them under ServiceFiles.PathList or pass -s/--service_folder)',
    );
  });

  test('a unit file fleet could not parse is an error naming its path', () => {
    const dir = project({
      'c.yaml': CONFIG(['u']),
      'u/web@.service': UNIT('web'),
      'u/web_disc@.service': '[Unit\nDescription=x\n',
      'u/lb.service': UNIT('lb'),
    });
    assert.deepEqual(errorsOf(loadConfig({ configFile: 'c.yaml', cwd: dir })), [
      `Service.web_disc.name_of_unit_file: unit file ${join(dir, 'u', 'web_disc@.service')} cannot be parsed: unable to find end of section`,
    ]);
  });
});

describe('the copy stored in etcd', () => {
  test('loadConfigFromObject reads the unit files from the folders again', () => {
    const dir = project({
      'c.yaml': CONFIG([]),
      'u/web@.service': UNIT('web'),
      'u/web_disc@.service': UNIT('disc'),
      'u/lb.service': UNIT('lb'),
    });
    const first = loadConfig({ configFile: 'c.yaml', cwd: dir, serviceFolders: ['u'] });
    if (!first.ok) assert.fail(first.errors.map(formatConfigError).join('\n'));
    const stored = JSON.parse(JSON.stringify(first.config.raw)) as unknown;
    const again = loadConfigFromObject(stored, { serviceFolders: [join(dir, 'u')] });
    if (!again.ok) assert.fail(again.errors.map(formatConfigError).join('\n'));
    assert.deepEqual(again.config, first.config);
    assert.deepEqual(again.unitFiles, first.unitFiles);
  });

  test('a broken stored copy gives the same named errors', () => {
    assert.deepEqual(errorsOf(loadConfigFromObject({ Dynamite: { Service: { web: { name_of_unit_file: 'web@.service', max_instance: 'x' } } } })), [
      'Service.web.base_instance_prefix_number: is required for a template service (web@.service): the first port',
      'Service.web.max_instance: must be a positive whole number (got "x")',
    ]);
  });
});

// A scheduler loads its file at start and at every election; a config of 10,000 services takes seconds to parse,
// so the parse of a file is kept by its text. What must never happen: an edited file (or edited unit files) served
// from that cache.
describe('loading the same file again', () => {
  test('the same text is not parsed again; an edited config file or unit file is', () => {
    const dir = project({ 'dynamite.yaml': CONFIG(['units']), 'units/web@.service': UNIT('web'), 'units/web_disc@.service': UNIT('disc'), 'units/lb.service': UNIT('lb') });
    const load = () => {
      const result = loadConfig({ configFile: 'dynamite.yaml', cwd: dir });
      assert.ok(result.ok, result.ok ? '' : result.errors.map(formatConfigError).join('\n'));
      return result;
    };
    const first = load();
    const again = load();
    assert.equal(again.config.services, first.config.services, 'the parse of an unchanged file is reused');

    writeFileSync(join(dir, 'dynamite.yaml'), CONFIG(['units']).replace('max_instance: 2', 'max_instance: 3'));
    const edited = load();
    assert.notEqual(edited.config.services, first.config.services);
    assert.equal(edited.config.services.find((s) => s.name === 'web')!.maxInstance, 3, 'the edited file is read');

    writeFileSync(join(dir, 'units/lb.service'), UNIT('lb, edited'));
    const unitEdited = load();
    assert.match(unitEdited.unitFiles.get('lb.service')!.text, /lb, edited/, 'unit files are read every time');

    writeFileSync(join(dir, 'dynamite.yaml'), CONFIG(['units']));
    assert.equal(load().config.services.find((s) => s.name === 'web')!.maxInstance, 2, 'and back');
  });
});
