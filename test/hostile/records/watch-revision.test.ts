import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '@dynamite/domain';
import { EngineHarness, sleep, waitFor, webServiceConfig, type EngineProcess } from '../../support/engine-harness';

// The rule: a stored watch revision that is not a decimal revision, or is ahead of etcd's current revision, is
// reported and treated as missing; a missing revision on a restart (an engine ran before) resynchronises from a
// range read of the current samples instead of starting from now. Each check reads after its machine's cursor, so
// a sample written while the scheduler was down is evaluated exactly once -- and the watch goes on afterwards.
describe('a tampered or missing watch revision neither crashes, blinds nor skips', () => {
  let h: EngineHarness;
  let scheduler: EngineProcess;

  before(async () => {
    h = await EngineHarness.start({ suite: 'watchrev', ...webServiceConfig({ min: 1, max: 3, upPeriod: 120, downPeriod: 120, cooldown: 1 }) });
    scheduler = h.spawn('scheduler');
    h.spawn('worker');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'min instance', h);
    await h.register('webserver', 'u-w', 'web@8080.service');
    await h.sample('webserver', 'u-w', 'cpu_user', 50);
    await waitFor(async () => (await h.etcd.get(keys.machine('web', 'web_up', 'u-w')).string()) !== null, 10_000, 'machine created', h);
  });
  after(async () => { await h?.stop(); });

  /** Decision records of machine u-w of web_up with this outcome. */
  const records = async (outcome: string) => (await h.decisions('web')).filter((d) => {
    const r = d as unknown as { machine: string; policy: string };
    return r.machine === 'u-w' && r.policy === 'web_up' && d.outcome === outcome;
  }).length;

  /** Kills the scheduler, lets `tamper` change the stored revision, writes a sample while it is down, starts it again. */
  async function restartWith(tamper: () => Promise<void>, value: number): Promise<void> {
    await waitFor(async () => (await h.etcd.get(keys.watchRevision).string()) !== null, 10_000, 'a stored revision', h);
    await sleep(400); // the newest handled revision is stored (every 200 ms)
    await h.kill(scheduler, 'SIGKILL');
    await tamper();
    await h.sample('webserver', 'u-w', 'cpu_user', value);
    scheduler = h.spawn('scheduler');
  }

  async function evaluatedOnce(outcome: string, before: number, what: string): Promise<void> {
    await waitFor(async () => (await records(outcome)) > before, 20_000, what, h);
    await sleep(1_000);
    assert.equal(await records(outcome), before + 1, `${what}: exactly once`);
    assert.equal(scheduler.child.exitCode, null, `the scheduler runs:\n${h.log(scheduler).slice(-2000)}`);
  }

  test('deleted: the sample written while the scheduler was down is evaluated (a resync, not a start from now)', async () => {
    const armed = await records('armed');
    const resyncs = (await h.decisions('web')).filter((d) => d.outcome === 'resync').length;
    await restartWith(async () => { await h.etcd.delete().key(keys.watchRevision); }, 99);
    await evaluatedOnce('armed', armed, 'the breaching sample written during the gap armed the window');
    const resync = (await h.decisions('web')).filter((d) => d.outcome === 'resync');
    assert.equal(resync.length, resyncs + 1);
    assert.equal(resync[resync.length - 1]!.reason, 'missing');
  });

  test('"abc": the scheduler starts, reports the key once, and evaluates the sample of the gap', async () => {
    const disarmed = await records('disarmed');
    await restartWith(async () => { await h.etcd.put(keys.watchRevision).value('abc'); }, 50);
    await evaluatedOnce('disarmed', disarmed, 'the non-breaching sample written during the gap disarmed');
    const lines = h.log(scheduler).split('\n').filter((l) => l.includes('record skipped') && l.includes(keys.watchRevision));
    assert.equal(lines.length, 1, h.log(scheduler).slice(-2000));
    assert.match(lines[0]!, /"reason":"invalid"/);
  });

  test('99999999 (ahead of etcd): not blind -- the gap and every later sample are evaluated', async () => {
    const armed = await records('armed');
    await restartWith(async () => { await h.etcd.put(keys.watchRevision).value('99999999'); }, 99);
    await evaluatedOnce('armed', armed, 'the breaching sample written during the gap armed the window');
    assert.match(h.log(scheduler), /"reason":"ahead_of_etcd"/);
    // The watch goes on from etcd's revision, not from the future.
    const disarmed = await records('disarmed');
    await h.sample('webserver', 'u-w', 'cpu_user', 50);
    await evaluatedOnce('disarmed', disarmed, 'a sample after the restart is evaluated');
    const stored = BigInt((await h.etcd.get(keys.watchRevision).string())!);
    const current = BigInt((await h.etcd.get(keys.applicationStatus).exec()).header.revision);
    assert.ok(stored <= current, `stored ${stored} <= current ${current}`);
  });
});
