import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { COMPRESSED_CONFIG_PREFIX, STORED_CONFIG_MAX_BYTES, encodeStoredConfig, keys, parseConfig } from '@dynamite/domain';
import { ConfigSource, resolveConfig } from '@dynamite/engine';
import { StateStore } from '@dynamite/store';
import { EtcdServer } from '../support/etcd';
import { waitFor, webServiceConfig } from '../support/engine-harness';

const configWithMax = (max: number) => webServiceConfig({ max }).config.replaceAll('{{UNITS}}', '/tmp');

/** A config of `count` template services, each with its own scale-up policy: ~1 KB of JSON per service. */
function manyServices(count: number): string {
  const names = Array.from({ length: count }, (_, i) => `svc${String(i).padStart(5, '0')}`);
  return ['Dynamite:', '  ServiceFiles:', '    PathList: [/tmp]', '  ETCD:', '    application_base_path: /services', '    metrics_base_path: /metrics',
    '  Service:', ...names.flatMap((n, i) => [`    ${n}:`, `      name_of_unit_file: ${n}@.service`, `      type: ${n}`, '      min_instance: 0', '      max_instance: 4',
      `      base_instance_prefix_number: ${10_000 + i * 4}`, '      scale_up_policy:', `        ScalingPolicy: ${n}_up`]),
    '  ScalingPolicy:', ...names.flatMap((n) => [`    ${n}_up:`, `      service_type: ${n}`, '      metric: cpu_user', '      comparative_operator: gt',
      '      threshold: 90', '      period: 30', '      period_unit: second', '      cooldown_period: 60', '      cooldown_period_unit: second'])].join('\n');
}

describe('the config cache every worker reads (ConfigSource)', () => {
  let server: EtcdServer;
  let etcd: Etcd3;
  let source: ConfigSource;

  before(async () => {
    server = await EtcdServer.start();
    etcd = new Etcd3({ hosts: server.url });
    source = new ConfigSource(new StateStore(etcd));
  });
  after(async () => {
    await source.close();
    etcd.close();
    await server.stop();
  });

  test('no config stored: a clear error naming the key', async () => {
    await assert.rejects(source.current(), /no configuration in etcd at \/_dynamite\/init\/application_configuration; start the scheduler first/);
  });

  test('read and parsed once; afterwards jobs cost no etcd read', async () => {
    await etcd.put(keys.applicationConfiguration).value(configWithMax(4));
    const first = await source.current();
    assert.equal(first.services.find((s) => s.name === 'web')!.maxInstance, 4);
    // The watch is set up in the background after the first read; once it is, calls stop reading etcd.
    await waitFor(async () => {
      const reads = source.counts.reads;
      await source.current();
      return source.counts.reads === reads;
    }, 10_000, 'calls served from the watched cache');
    const { reads, parses } = source.counts;
    for (let i = 0; i < 100; i += 1) assert.equal(await source.current(), first);
    assert.deepEqual(source.counts, { reads, parses });
  });

  test('a config stored anew reaches the cache through the watch, parsed once', async () => {
    const parses = source.counts.parses;
    await etcd.put(keys.applicationConfiguration).value(configWithMax(7));
    const next = await waitFor(async () => {
      const c = await source.current();
      return c.services.find((s) => s.name === 'web')!.maxInstance === 7 ? c : null;
    }, 10_000, 'max_instance 7 seen');
    assert.equal(source.counts.parses, parses + 1);
    assert.equal(await source.current(), next);
  });

  test('an invalid stored config is reported, not served from the cache', async () => {
    await etcd.put(keys.applicationConfiguration).value('Dynamite: [not, a, mapping');
    await waitFor(async () => source.current().then(() => null, (err: Error) => /stored configuration is invalid/.test(err.message)), 10_000, 'invalid config reported');
    await etcd.put(keys.applicationConfiguration).value(configWithMax(5));
    await waitFor(async () => (await source.current()).services.find((s) => s.name === 'web')!.maxInstance === 5, 10_000, 'valid again');
  });

  test('a deleted config is reported', async () => {
    await etcd.delete().key(keys.applicationConfiguration).exec();
    await waitFor(async () => source.current().then(() => null, (err: Error) => /no configuration in etcd/.test(err.message)), 10_000, 'deletion seen');
    await etcd.put(keys.applicationConfiguration).value(configWithMax(6));
    await waitFor(async () => (await source.current()).services.find((s) => s.name === 'web')!.maxInstance === 6, 10_000, 'stored again');
  });

  test('a config over 1 MiB (3,000 services) is stored compressed in the one key, and read whole by workers and schedulers', async () => {
    const parsed = parseConfig(manyServices(3_000), { source: 'test' });
    assert.ok(parsed.ok);
    assert.ok(Buffer.byteLength(JSON.stringify(parsed.config.raw)) > STORED_CONFIG_MAX_BYTES, 'the JSON is over the limit');
    const value = encodeStoredConfig(parsed.config.raw);
    assert.ok(value.startsWith(COMPRESSED_CONFIG_PREFIX));
    await etcd.put(keys.applicationConfiguration).value(value);
    const seen = await waitFor(async () => {
      const c = await source.current();
      return c.services.length === 3_000 ? c : null;
    }, 10_000, '3,000 services seen');
    assert.deepEqual(seen.raw, parsed.config.raw);
    // A scheduler started without a file takes the stored one.
    const resolved = await resolveConfig(new StateStore(etcd), {});
    assert.equal(resolved.source, 'etcd');
    assert.equal(resolved.config.services.length, 3_000);
    await etcd.put(keys.applicationConfiguration).value(configWithMax(4));
    await waitFor(async () => (await source.current()).services.length === 2, 10_000, 'the small config back');
  });

  test('after etcd restarts, a change made while the watch was down is still seen', async () => {
    await server.kill('SIGKILL');
    await server.restart();
    await etcd.put(keys.applicationConfiguration).value(configWithMax(3));
    await waitFor(async () => (await source.current().catch(() => null))?.services.find((s) => s.name === 'web')!.maxInstance === 3, 20_000, 'change after restart seen');
  });
});
