import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAINTENANCE_QUEUE, keys } from '@dynamite/domain';
import { EngineHarness, sampleStream, waitFor, webServiceConfig, type EngineProcess } from '../support/engine-harness';
import { freePort } from '../support/ports';
import { parseMetrics, runCli } from '../operator/support';

// Dry run: `--dry_run` on the leading scheduler (stored in etcd, so a worker of its own follows it) and a service's
// `dry_run: true`. Every decision is evaluated and recorded as dry_run with what it would have done; nothing reaches
// fleet: no min_instance bootstrap, no scale action, no instance record, no action record.
const base = webServiceConfig({ min: 1, max: 4, upPeriod: 1, cooldown: 30 });
const config = base.config.replace('  ScalingPolicy:\n', `    batch:
      name_of_unit_file: batch@.service
      type: batchtype
      min_instance: 1
      max_instance: 2
      base_instance_prefix_number: 9300
      dry_run: true
  ScalingPolicy:
`);
const units = { ...base.units, 'batch@.service': '[Unit]\nDescription=batch %i\n\n[Service]\nExecStart=/bin/sleep 600\n' };

describe('dry run', () => {
  let h: EngineHarness;
  let scheduler: EngineProcess;
  let http: string;

  before(async () => {
    h = await EngineHarness.start({ suite: 'dryrun', config, units });
    const port = await freePort();
    http = `http://127.0.0.1:${port}`;
    scheduler = h.spawn('scheduler', ['--dry_run', '--http', `127.0.0.1:${port}`]);
    h.spawn('worker', ['--concurrency', '4']);
  });
  after(async () => { await h.stop(); });

  const records = async (service: string, outcome: string, reason?: string) =>
    (await h.decisions(service)).filter((d) => d.outcome === outcome && (reason === undefined || d.reason === reason));

  test('the leading scheduler stores the dry run; min_instance is recorded as dry_run, once, and nothing is created', async () => {
    const [record] = await waitFor(async () => {
      const found = await records('web', 'dry_run', 'min_instance');
      return found.length > 0 ? found : null;
    }, 20_000, 'a dry_run min_instance record of web', h);
    assert.deepEqual(record!.action, { kind: 'scale_up', instance: 'web@8080.service', attached: ['web_disc@8080.service'] });
    const stored = await h.etcd.get(keys.dryRun).json() as { by: string } | null;
    assert.equal(stored?.by, 'dryrun-scheduler');
    // Several reconciles later (every 2 s, on the worker) the record is still the only one: one per situation.
    await waitFor(async () => (await h.queue(MAINTENANCE_QUEUE).getCompleted()).filter((j) => j.name === 'reconcile').length >= 3, 20_000, 'three reconciles', h);
    assert.equal((await records('web', 'dry_run', 'min_instance')).length, 1);
    assert.deepEqual(await h.instances('web'), {});
    assert.deepEqual(await h.actions('web'), []);
    assert.deepEqual(await h.unitNames(), []);
  });

  test('a fire is recorded as dry_run with the instance it would have created, and starts its cooldown; no action', async () => {
    const stream = sampleStream(h, 'webserver', 'uuid-a', 'cpu_user', () => 95, 150);
    let fire;
    try {
      [fire] = await waitFor(async () => {
        const found = await records('web', 'dry_run', 'web_up');
        return found.length > 0 ? found : null;
      }, 20_000, 'a dry_run fire of web_up', h);
    } finally {
      await stream.stop();
    }
    assert.equal(fire!.policy, 'web_up');
    assert.equal(fire!.machine, 'uuid-a');
    assert.deepEqual(fire!.action, { kind: 'scale_up', instance: 'web@8080.service', attached: ['web_disc@8080.service'] });
    assert.equal(fire!.inputs['dryRun'], true);
    // The cooldown runs as it would have after a real decision: the records come at the pace real ones would.
    const cooldown = await h.etcd.get(keys.cooldown('web', 'web_up')).json() as { decisionId: string; until: number } | null;
    assert.equal(cooldown?.decisionId, fire!.id);
    assert.equal((await records('web', 'dry_run', 'web_up')).length, 1);
    assert.equal((await records('web', 'scaled')).length, 0);
    assert.deepEqual(await h.actions('web'), []);
    assert.deepEqual(await h.instances('web'), {});
    assert.deepEqual(await h.unitNames(), []);
  });

  test('the API, the metrics and dynamite status show the dry run', async () => {
    const overview = await (await fetch(`${http}/api/services`)).json() as { dryRun: boolean; services: { name: string; dryRun: boolean; dryRunSource: string }[] };
    assert.equal(overview.dryRun, true);
    assert.deepEqual(overview.services.map((s) => [s.name, s.dryRun, s.dryRunSource]), [['web', true, 'engine'], ['batch', true, 'engine']]);
    const metrics = await waitFor(async () => {
      const m = parseMetrics(await (await fetch(`${http}/metrics`)).text());
      return m.get('dynamite_dry_run{service="web"}') === 1 ? m : null;
    }, 10_000, 'dynamite_dry_run{service="web"} 1', h);
    assert.equal(metrics.get('dynamite_dry_run{service="batch"}'), 1);
    // The scheduler's own reconcile at its election recorded web's min_instance dry run.
    assert.equal(metrics.get('dynamite_decisions_total{service="web",outcome="dry_run",reason="min_instance"}'), 1);
    const status = await runCli(['status', '-e', h.etcdServer.endpoint]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^engine: Running \(dry run: decisions are recorded, nothing reaches fleet\); instances: web 0\/4, batch 0\/2$/m);
  });

  test('a worker refuses --dry_run with one line saying where it belongs', async () => {
    const r = await runCli(['worker', '--dry_run', ...h.engineFlags]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'dynamite: --dry_run is a scheduler flag: give it to `dynamite scheduler` (or `dynamite run`); the leading scheduler stores it in etcd and every worker follows it\n');
  });

  test("a scheduler elected without --dry_run clears it: web is brought to min_instance, batch's own dry_run holds", async () => {
    await h.kill(scheduler, 'SIGTERM');
    h.spawn('scheduler');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'web@8080 launched', h);
    assert.equal(await h.etcd.get(keys.dryRun).string(), null);
    // One record while the engine ran dry, one more once only batch's own dry_run holds (another situation).
    const batch = await waitFor(async () => {
      const found = await records('batch', 'dry_run', 'min_instance');
      return found.length === 2 ? found : null;
    }, 20_000, 'two dry_run min_instance records of batch', h);
    assert.deepEqual(batch.map((r) => r.action?.instance), ['batch@9300.service', 'batch@9300.service']);
    assert.deepEqual(await h.instances('batch'), {});
    assert.ok(!(await h.unitNames()).some((u) => u.startsWith('batch@')), 'batch is never launched');
  });
});
