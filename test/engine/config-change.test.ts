import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { keys } from '@dynamite/domain';
import type { StoredMachine } from '@dynamite/store';
import { EngineHarness, waitFor, webServiceConfig } from '../support/engine-harness';

// A config stored anew reaches a running worker (through its watch of the stored config) without a restart.
describe('a config change reaches the workers', () => {
  let h: EngineHarness;

  before(async () => {
    h = await EngineHarness.start({ suite: 'config-change', ...webServiceConfig({ min: 1, max: 3, upThreshold: 80, upPeriod: 600 }) });
    h.spawn('scheduler');
    h.spawn('worker');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance launched', h);
  });
  after(async () => { await h.stop(); });

  /** Writes a sample and waits until the web_up state machine of `uuid` has evaluated it. */
  async function evaluated(uuid: string, value: number): Promise<void> {
    const key = await h.sample('webserver', uuid, 'cpu_user', value);
    const revision = BigInt((await h.etcd.get(key).exec()).kvs[0]!.mod_revision);
    await waitFor(async () => {
      const stored = (await h.etcd.get(keys.machine('web', 'web_up', uuid)).json()) as StoredMachine | null;
      return stored?.cursor && BigInt(stored.cursor) >= revision ? true : null;
    }, 20_000, `sample ${value} of ${uuid} evaluated`, h);
  }

  const armedRecords = async (uuid: string) => (await h.decisions('web')).filter((d) => d.outcome === 'armed' && (d as { machine?: string }).machine === uuid && (d as { policy?: string }).policy === 'web_up');

  test('60 does not breach "gt 80"; after the config says "gt 40", the same worker arms on 60', async () => {
    await evaluated('cfg', 50);
    await evaluated('cfg', 60);
    assert.equal((await armedRecords('cfg')).length, 0, 'nothing armed under threshold 80');

    const changed = path.join(h.dir, 'dynamite-40.yaml');
    fs.writeFileSync(changed, fs.readFileSync(h.configFile, 'utf8').replace(/threshold: 80\n/, 'threshold: 40\n'));
    await h.kill(h.processes.find((p) => p.name.startsWith('scheduler'))!, 'SIGTERM');
    h.spawn('scheduler', ['-c', changed]);
    await waitFor(async () => /threshold":\s*40/.test((await h.etcd.get(keys.applicationConfiguration).string()) ?? ''), 30_000, 'the new config stored', h);

    await evaluated('cfg', 60);
    const armed = await armedRecords('cfg');
    assert.equal(armed.length, 1, 'armed once under threshold 40');
    assert.equal(h.processes.filter((p) => p.name.startsWith('worker')).length, 1, 'the worker was not restarted');
  });
});
