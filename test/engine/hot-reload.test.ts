import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CHECKS_QUEUE, MAINTENANCE_QUEUE, JOB, jobIds, keys } from '@dynamite/domain';
import type { CooldownRecord, StoredMachine } from '@dynamite/store';
import { EngineHarness, sampleStream, waitFor, webServiceConfig, type EngineProcess } from '../support/engine-harness';
import { runDynamite, type CliRun } from '../config/support';
import { WebhookReceiver } from '../support/webhook-receiver';

/** A second service with its own scale-up policy on its own metric, added and removed by the tests. */
const API_SERVICE = `    api:
      name_of_unit_file: api@.service
      type: apiserver
      min_instance: 2
      max_instance: 3
      base_instance_prefix_number: 9000
      scale_up_policy:
        ScalingPolicy: api_up
`;
const API_POLICY = `    api_up:
      service_type: apiserver
      metric: cpu_user
      comparative_operator: gt
      threshold: 80
      period: 1.5
      period_unit: second
      cooldown_period: 30
      cooldown_period_unit: second
`;

/**
 * Hot reload against real engine processes (a scheduler and a worker, private etcd, Redis, the fleet emulator), driven
 * through the real CLI: `dynamite diff` and `dynamite apply` while the engine runs, a scheduler restarted with its
 * unchanged file, and SIGHUP. The scheduler is never restarted by a reload.
 */
describe('hot reload: dynamite diff / apply and SIGHUP on a running engine', () => {
  let h: EngineHarness;
  let scheduler: EngineProcess;
  let original: string;
  /** Told about config changes (`events: [config]`). */
  let hook: WebhookReceiver;

  before(async () => {
    hook = await WebhookReceiver.start('hot-reload-webhook-secret');
    // web_up fires fast (a cooldown follows); web_down arms for 10 minutes (its timer stays armed through the tests).
    const { config, units } = webServiceConfig({ min: 1, max: 4, upPeriod: 1.5, downPeriod: 600, cooldown: 300 });
    const notifications = `  Notifications:\n    webhooks:\n      changes:\n        url: ${hook.url}\n        secret: hot-reload-webhook-secret\n        events: [config]\n`;
    h = await EngineHarness.start({ suite: 'hot-reload', config: config + notifications, units });
    fs.writeFileSync(path.join(h.unitDir, 'api@.service'), '[Unit]\nDescription=api %i\n\n[Service]\nExecStart=/bin/sleep 600\n');
    original = fs.readFileSync(h.configFile, 'utf8');
    scheduler = h.spawn('scheduler');
    h.spawn('worker');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance launched', h);
  });
  after(async () => {
    await h?.stop();
    await hook?.close();
  });

  /** A config file in the suite's folder: the original, changed by `edit`. */
  function configFile(name: string, edit: (text: string) => string): string {
    const file = path.join(h.dir, name);
    fs.writeFileSync(file, edit(original));
    return file;
  }
  const withApi = (text: string) => text.replace('  Service:\n', `  Service:\n${API_SERVICE}`).replace('  ScalingPolicy:\n', `  ScalingPolicy:\n${API_POLICY}`);
  const etcdFlags = () => ['-e', h.etcdServer.endpoint];
  const cli = (args: string[]): Promise<CliRun> => runDynamite([...args, ...etcdFlags()], { timeoutMs: 60_000 });

  const machine = async (policy: string, uuid: string) => (await h.etcd.get(keys.machine('web', policy, uuid)).json()) as StoredMachine | null;
  const cooldown = async (policy: string) => (await h.etcd.get(keys.cooldown('web', policy)).json()) as CooldownRecord | null;
  const reconfigured = async (service: string) => (await h.decisions(service)).filter((d) => d.outcome === 'reconfigured');
  const stillRunning = () => assert.equal(scheduler.child.exitCode, null, 'the scheduler was never restarted');

  /** Waits until `n` reconcile runs finished after now (the engine had every chance to repair or heal). */
  async function reconcileRuns(n: number): Promise<void> {
    const since = Date.now();
    await waitFor(async () => {
      const done = await h.queue(MAINTENANCE_QUEUE).getJobs(['completed']);
      return done.filter((j) => j.name === JOB.reconcile && (j.finishedOn ?? 0) > since).length >= n;
    }, 30_000, `${n} reconcile runs`, h);
  }

  let withApiFile: string;

  test('dynamite diff: exit 1 with what would change, exit 0 for the running config', async () => {
    withApiFile = configFile('with-api.yaml', withApi);
    const changed = await cli(['diff', '-c', withApiFile]);
    assert.equal(changed.code, 1, changed.stderr);
    assert.deepEqual(changed.stdout.trim().split('\n'), ['+ Service.api: added', '+ ScalingPolicy.api_up: added']);
    const same = await cli(['diff', '-c', h.configFile]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout, 'no change\n');
    const broken = await cli(['diff', '-c', configFile('broken.yaml', (t) => t.replace('max_instance: 4', 'max_instance: many'))]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /^error: Service\.web\.max_instance: must be a positive whole number \(got "many"\)$/m);
  });

  test('apply adds a service: it gets its min_instance and its samples are routed; timers and cooldowns of unchanged policies survive', async () => {
    // A cooldown of web_up (a real scale up), and an armed 10-minute window of web_down.
    const stream = sampleStream(h, 'webserver', 'u1', 'cpu_user', () => 95);
    try {
      await waitFor(async () => cooldown('web_up'), 30_000, 'web_up fired: cooldown running', h);
    } finally {
      await stream.stop();
    }
    await h.sample('webserver', 'u2', 'cpu_user', 5);
    const armed = await waitFor(async () => (await machine('web_down', 'u2'))?.state.armed ? machine('web_down', 'u2') : null, 20_000, 'web_down armed on u2', h);
    const cooldownBefore = (await cooldown('web_up'))!;
    const timerId = jobIds.timer({ service: 'web', policy: 'web_down', machine: 'u2' }, armed!.state.armed!.timerId);
    const cooldownEndId = jobIds.cooldownEnd('web', 'web_up', cooldownBefore.decisionId);
    assert.equal(await (await h.queue(CHECKS_QUEUE).getJob(timerId))?.getState(), 'delayed');

    const applied = await cli(['apply', '-c', withApiFile]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^\+ Service\.api: added$/m);
    assert.match(applied.stdout, /^stored at revision \d+$/m);
    assert.match(applied.stdout, /^applied by the leading scheduler/m);

    await waitFor(async () => {
      const units = await h.launchedUnits();
      return units.includes('api@9000.service') && units.includes('api@9001.service');
    }, 30_000, 'api brought to min_instance 2', h);
    const [added] = await reconfigured('api');
    assert.equal(added?.reason, 'added');
    assert.match((added as unknown as { message: string }).message, /^config revision \d+ \(dynamite apply\), api: added to the config \(min_instance 2, max_instance 3\)/);
    assert.equal((await h.decisions('api')).filter((d) => d.outcome === 'bound_repair').length, 2);
    const told = await waitFor(async () => hook.find('reconfigured'), 20_000, 'the config change sent to the webhook', h);
    assert.deepEqual({ event: told.payload.event, service: told.payload.service, id: told.payload.record.id, verified: told.verified }, { event: 'config', service: 'api', id: added!.id, verified: true });

    // The sample watch routes the new service's metric (it was not restarted).
    const apiStream = sampleStream(h, 'apiserver', 'a1', 'cpu_user', () => 99);
    try {
      await waitFor(async () => (await h.decisions('api')).find((d) => d.outcome === 'scaled'), 30_000, 'api scaled up on its own policy', h);
    } finally {
      await apiStream.stop();
    }
    await waitFor(async () => (await h.launchedUnits()).includes('api@9002.service'), 30_000, 'api@9002 launched', h);

    // Unchanged policies: the armed window, its timer job, the cooldown and its end job are as they were.
    assert.deepEqual((await machine('web_down', 'u2'))!.state.armed, armed!.state.armed);
    assert.equal(await (await h.queue(CHECKS_QUEUE).getJob(timerId))?.getState(), 'delayed');
    assert.deepEqual(await cooldown('web_up'), cooldownBefore);
    assert.equal(await (await h.queue(CHECKS_QUEUE).getJob(cooldownEndId))?.getState(), 'delayed');
    assert.deepEqual(await reconfigured('web'), [], 'nothing changed for web');
    stillRunning();
  });

  test('apply with a changed threshold starts that policy\'s state machines over; the other policy keeps its cooldown', async () => {
    const armed = (await machine('web_down', 'u2'))!.state.armed!;
    const file = configFile('threshold.yaml', (t) => withApi(t).replace(/threshold: 10\n/, 'threshold: 20\n'));
    const diff = await cli(['diff', '-c', file]);
    assert.equal(diff.code, 1);
    assert.deepEqual(diff.stdout.trim().split('\n'), [
      '~ ScalingPolicy.web_down.threshold: 10 -> 20',
      '    ScalingPolicy.web_down: its state machines start over (running cooldowns are kept)',
    ]);
    const cooldownBefore = await cooldown('web_up');
    const applied = await cli(['apply', '-c', file]);
    assert.equal(applied.code, 0, applied.stderr);

    assert.equal(await machine('web_down', 'u2'), null, 'the machine of the changed policy starts over');
    const timerJob = await h.queue(CHECKS_QUEUE).getJob(jobIds.timer({ service: 'web', policy: 'web_down', machine: 'u2' }, armed.timerId));
    assert.equal(timerJob, undefined, 'its timer job was cancelled');
    assert.deepEqual(await cooldown('web_up'), cooldownBefore, 'web_up is unchanged: its cooldown runs on');
    const [record] = await reconfigured('web');
    assert.equal(record?.reason, 'changed');
    assert.deepEqual(record?.inputs.changes, ['policy web_down changed (threshold: 10 -> 20): its state machines start over (cooldown kept)']);

    // The new threshold is what the worker evaluates: 15 is below 20, so web_down arms anew.
    await h.sample('webserver', 'u2', 'cpu_user', 15);
    await waitFor(async () => (await machine('web_down', 'u2'))?.state.armed, 20_000, 'web_down armed anew under threshold 20', h);
    stillRunning();
  });

  let withoutApiFile: string;

  test('apply without the service: it is no longer managed, its units are left running; --prune destroys them', async () => {
    withoutApiFile = configFile('without-api.yaml', (t) => t.replace(/threshold: 10\n/, 'threshold: 20\n'));
    const applied = await cli(['apply', '-c', withoutApiFile]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^- Service\.api: removed/m);
    assert.match(applied.stdout, /api: units left running; dynamite apply --prune destroys them/);
    const removed = (await reconfigured('api')).find((r) => r.reason === 'removed');
    assert.ok(removed, 'a removed record for api');
    const apiUnits = (await h.launchedUnits()).filter((u) => u.startsWith('api@'));
    assert.deepEqual(apiUnits, ['api@9000.service', 'api@9001.service', 'api@9002.service']);

    // Unmanaged: a unit fleet loses is not launched again, and nothing is decided for api any more.
    await h.fleet.destroyUnit('api@9001.service');
    const recordsBefore = (await h.decisions('api')).length;
    await reconcileRuns(2);
    assert.ok(!(await h.unitNames()).includes('api@9001.service'), 'not healed');
    assert.equal((await h.decisions('api')).length, recordsBefore, 'no decision for api');

    const again = await cli(['diff', '-c', withoutApiFile]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^no change$/m);
    assert.match(again.stdout, /Service\.api: not in the config, not managed \(3 recorded instance\(s\) left running\)/);

    const pruned = await cli(['apply', '--prune', '-c', withoutApiFile]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /^- Service\.api: --prune destroys api@9000\.service, api@9001\.service, api@9002\.service$/m);
    await waitFor(async () => (await h.unitNames()).every((u) => !u.startsWith('api@')), 30_000, 'api units destroyed', h);
    await waitFor(async () => Object.keys(await h.instances('api')).length === 0, 30_000, 'api instance records gone', h);
    const records = await h.decisions('api');
    assert.deepEqual(records.filter((r) => r.reason === 'pruned').map((r) => r.action?.instance).sort(), ['api@9000.service', 'api@9001.service', 'api@9002.service']);
    assert.equal(records.filter((r) => r.outcome === 'action_done' && r.action?.kind === 'scale_down').length, 3);
    assert.ok((await h.launchedUnits()).includes('web@8080.service'), 'web untouched');
    stillRunning();
  });

  test('a scheduler restarted with its unchanged file keeps the applied config', async () => {
    const stored = await h.etcd.get(keys.applicationConfiguration).string();
    await h.kill(scheduler, 'SIGTERM');
    scheduler = h.spawn('scheduler');
    await waitFor(async () => /leading: watching samples/.test(h.log(scheduler)), 30_000, 'the new scheduler leads', h);
    assert.match(h.log(scheduler), /is unchanged since a scheduler stored it, and another config was stored since/);
    assert.equal(await h.etcd.get(keys.applicationConfiguration).string(), stored, 'the applied config was kept');
    assert.equal((await cli(['diff', '-c', withoutApiFile])).code, 0);
  });

  test('SIGHUP: the scheduler re-reads its file and applies it', async () => {
    fs.writeFileSync(h.configFile, fs.readFileSync(withoutApiFile, 'utf8').replace('min_instance: 1', 'min_instance: 3'));
    const recordsBefore = (await reconfigured('web')).length;
    process.kill(scheduler.child.pid!, 'SIGHUP');
    const record = await waitFor(async () => (await reconfigured('web')).slice(recordsBefore).find((r) => r.reason === 'changed'), 30_000, 'web reconfigured by SIGHUP', h);
    assert.deepEqual(record.inputs.changes, ['min_instance: 1 -> 3']);
    assert.equal(record.inputs.by, 'SIGHUP');
    await waitFor(async () => (await h.launchedUnits()).filter((u) => /^web@\d+\.service$/.test(u)).length >= 3, 30_000, 'web brought to min_instance 3', h);
    assert.equal(scheduler.child.exitCode, null, 'SIGHUP did not end the scheduler');
    assert.match(h.log(scheduler), /SIGHUP: config file stored; applying it/);
  });
});
