import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@dynamite/config-loader';
import { formatConfigError } from '@dynamite/domain';
import { ORIGINALS, lines, runDynamite } from './support';

/**
 * The original project's four configs load unchanged once `ServiceFiles.PathList` points at a real folder
 * holding the unit files they name. They are read from /work/shared at test time, never copied into the repo.
 */
const CONFIGS = join(ORIGINALS, 'configs');
const temp = mkdtempSync(join(tmpdir(), 'dynamite-original-configs-'));
after(() => rmSync(temp, { recursive: true, force: true }));

/** Every original unit file by name (the three fixture folders hold no name twice). */
function originalUnits(): Map<string, string> {
  const units = new Map<string, string>();
  for (const folder of readdirSync(join(ORIGINALS, 'units'))) {
    for (const name of readdirSync(join(ORIGINALS, 'units', folder))) units.set(name, join(ORIGINALS, 'units', folder, name));
  }
  return units;
}

/** A unit folder for `configText`: the original unit where one has the name, a small stand-in otherwise. */
function unitFolderFor(configText: string, folder: string): { copied: string[]; standIns: string[] } {
  const available = originalUnits();
  const names = [...new Set([...configText.matchAll(/name_of_unit_file:\s*(\S+)/g)].map((m) => m[1]!))];
  const copied: string[] = [];
  const standIns: string[] = [];
  for (const name of names) {
    const source = available.get(name);
    if (source) {
      copyFileSync(source, join(folder, name));
      copied.push(name);
    } else {
      writeFileSync(join(folder, name), `[Unit]\nDescription=stand-in for ${name}\n\n[Service]\nExecStart=/bin/sh -c "while true; do sleep 10; done"\n`);
      standIns.push(name);
    }
  }
  return { copied, standIns };
}

/** The config text with its PathList items replaced by `folder`; nothing else changes. */
function withPathList(text: string, folder: string): string {
  const replaced = text.replace(/(PathList:[ \t]*\n)((?:([ \t]+)- .*\n)+)/, (_m, head: string, items: string) => {
    const indent = /^([ \t]+)-/.exec(items)![1];
    return `${head}${indent}- '${folder}'\n`;
  });
  assert.notEqual(replaced, text, 'PathList was not found');
  return replaced;
}

interface Expectation {
  services: number;
  policies: number;
  templates: string[];
  attached: string[];
}

const EXPECTED: Record<string, Expectation> = {
  'canonical.yaml': { services: 4, policies: 2, templates: ['a'], attached: ['a_service_announcer', 'a_logger'] },
  'production.yaml': {
    services: 21,
    policies: 2,
    templates: ['zurmo_apache', 'zurmo_dashboard', 'zurmo_elasticsearch', 'zurmo_galera_cluster', 'zurmo_haproxy', 'zurmo_kibana', 'zurmo_logstash', 'zurmo_memcache'],
    attached: [
      'zurmo_apache_discovery', 'zurmo_application', 'zurmo_config', 'zurmo_elasticdump', 'zurmo_elasticsearch_discovery',
      'zurmo_galera_cluster_discovery', 'zurmo_haproxy_discovery', 'zurmo_log_courier_apache', 'zurmo_log_courier_galera_cluster',
      'zurmo_log_courier_haproxy', 'zurmo_log_courier_memcache', 'zurmo_logstash_discovery', 'zurmo_memcache_discovery',
    ],
  },
  'scale_down_apache.yaml': { services: 4, policies: 2, templates: ['webserver'], attached: ['webserver_announcer', 'webserver_logger'] },
  'scale_up_apache.yaml': { services: 2, policies: 2, templates: ['webserver'], attached: [] },
};

test('all four originals are here', () => {
  assert.deepEqual(readdirSync(CONFIGS).sort(), Object.keys(EXPECTED).sort());
});

describe('the original configs load unchanged but for PathList', () => {
  for (const [file, expected] of Object.entries(EXPECTED)) {
    test(file, () => {
      const dir = mkdtempSync(join(temp, `${file}-`));
      const units = join(dir, 'units');
      const original = readFileSync(join(CONFIGS, file), 'utf8');
      writeFileSync(join(dir, 'dynamite.yaml'), withPathList(original, units));
      mkdirSync(units);
      const { copied, standIns } = unitFolderFor(original, units);

      const result = loadConfig({ configFile: join(dir, 'dynamite.yaml') });
      if (!result.ok) assert.fail(result.errors.map(formatConfigError).join('\n'));
      const { config, unitFiles } = result;
      assert.equal(config.services.length, expected.services);
      assert.equal(config.policies.length, expected.policies);
      assert.deepEqual(config.services.filter((s) => s.isTemplate && !s.isAttached).map((s) => s.name).sort(), [...expected.templates].sort());
      assert.deepEqual(config.services.filter((s) => s.isAttached).map((s) => s.name).sort(), [...expected.attached].sort());
      assert.deepEqual(config.serviceFolders, [units]);
      assert.deepEqual(config.fleetEndpoint, { ip: '127.0.0.1', port: 49153 });
      assert.deepEqual(config.etcd, { applicationBasePath: '/services', metricsBasePath: '/metrics' });
      // Every unit file a service names is there, with the original text where one exists.
      assert.deepEqual([...unitFiles.keys()].sort(), [...copied, ...standIns].sort());
      for (const name of copied) {
        assert.equal(unitFiles.get(name)!.text, readFileSync(join(units, name), 'utf8'));
        assert.ok(unitFiles.get(name)!.options.length > 0, name);
      }
      // Nothing an original config holds is an error; what does nothing is at most a warning.
      for (const warning of result.warnings) assert.doesNotMatch(warning.message, /unknown/);
    });
  }
});

test('the original values come through: production.yaml', () => {
  const dir = mkdtempSync(join(temp, 'values-'));
  mkdirSync(join(dir, 'units'));
  const original = readFileSync(join(CONFIGS, 'production.yaml'), 'utf8');
  writeFileSync(join(dir, 'dynamite.yaml'), withPathList(original, join(dir, 'units')));
  unitFolderFor(original, join(dir, 'units'));
  const result = loadConfig({ configFile: join(dir, 'dynamite.yaml') });
  assert.ok(result.ok);
  const apache = result.config.services.find((s) => s.name === 'zurmo_apache')!;
  assert.deepEqual(
    { min: apache.minInstance, max: apache.maxInstance, base: apache.basePort, attached: apache.attachedServices, up: apache.scaleUpPolicies, down: apache.scaleDownPolicies },
    {
      min: 2,
      max: 10,
      base: 8080,
      attached: ['zurmo_apache_discovery', 'zurmo_log_courier_apache', 'zurmo_application', 'zurmo_config'],
      up: ['apache_scale_up'],
      down: ['apache_scale_down'],
    },
  );
  const up = result.config.policies.find((p) => p.name === 'apache_scale_up')!;
  assert.deepEqual(
    { dir: up.metricDir, path: up.valuePath, aggregated: up.aggregated, op: up.operator, threshold: up.threshold, period: up.periodMs, cooldown: up.cooldownMs },
    { dir: 'response_time', path: 'time_backend_response.p95', aggregated: true, op: 'gt', threshold: 500, period: 2000, cooldown: 2000 },
  );
});

test('dynamite validate accepts canonical.yaml; its no-op keys are warnings on stderr', async () => {
  const dir = mkdtempSync(join(temp, 'cli-'));
  mkdirSync(join(dir, 'units'));
  const original = readFileSync(join(CONFIGS, 'canonical.yaml'), 'utf8');
  writeFileSync(join(dir, 'dynamite.yaml'), withPathList(original, join(dir, 'units')));
  unitFolderFor(original, join(dir, 'units'));
  const run = await runDynamite(['validate', '-c', join(dir, 'dynamite.yaml')]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'ok\n');
  assert.deepEqual(lines(run.stderr), [
    'warning: Service.a.service_dependency: has no effect (as in the original): services are not started in dependency order',
  ]);
});

test('unchanged, their Windows PathList is an error naming it (the original failed there too)', () => {
  const result = loadConfig({ configFile: join(CONFIGS, 'canonical.yaml'), cwd: temp });
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0]!.path, 'ServiceFiles.PathList[0]');
  assert.match(result.errors[0]!.message, /^folder "C:\\Projects\\CNA\\dynamite\\dynamite\\tests\\TEST_CONFIG_FOLDER\\service-files" \(.*\) does not exist$/);
});
