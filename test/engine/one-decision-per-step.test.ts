import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys, type DecisionRecord, type MachineRef } from '@dynamite/domain';
import { runPolicyCheck, runPolicyCheckBatch } from '@dynamite/engine';
import { parseStoredMachine } from '@dynamite/store';
import { sampleKey } from '../support/engine-harness';
import { RecordsBench } from '../hostile/records/support';

// A check reads every new sample of a machine at once, however late it runs. Those samples may close a window, arm
// the next and close that one too: each fire is decided on its own step (on the service as the previous decision
// left it), and every window gets its closing record. Samples are taken in the order they were written, so the
// outcome does not depend on how many a check reads at once. Real etcd, Redis and the fleet emulator; the config
// (web: min 1, max 3; web_up: above 80 for 1 minute, cooldown 1 minute) is the records bench's.

describe('one decision per step', () => {
  let bench: RecordsBench;

  before(async () => { bench = await RecordsBench.start('one-decision'); });
  after(async () => bench?.stop());
  afterEach(async () => bench.restore());

  /** Writes a sample of `uuid` dated `ts` and notes the scheduler received it at `receivedAt`; returns its revision. */
  async function put(uuid: string, ts: number, value: string, receivedAt: number): Promise<string> {
    const res = await bench.ctx.store.etcd.put(sampleKey('webserver', uuid, 'cpu_user', ts)).value(value).exec();
    const revision = String(res.header.revision);
    await bench.ctx.jobs.recordReceipts([revision], receivedAt);
    return revision;
  }

  async function records(machine: string): Promise<DecisionRecord[]> {
    return (await bench.ctx.store.listDecisions('web', 100)).filter((r) => r.machine === machine && r.policy === 'web_up');
  }

  async function stored(ref: MachineRef) {
    const text = await bench.ctx.store.etcd.get(keys.machine(ref.service, ref.policy, ref.machine)).string();
    assert.ok(text, `${ref.machine} is stored`);
    return parseStoredMachine(text);
  }

  const hint = () => ({ revision: '0', receivedAt: Date.now() });

  test('samples read late that close two windows make two decisions, each window closed by one record', async () => {
    const ref = { service: 'web', policy: 'web_up', machine: 'u-late' };
    const now = Date.now();
    await put('u-late', now - 300_000, '50', now - 300_000);
    await runPolicyCheckBatch(bench.ctx, [ref], hint()); // the machine starts (a cursor, nothing armed)

    // One check sees all six: window 1 (armed -200 s, expires -140 s) is closed by the sample of -130 s and fires
    // (cooldown until -80 s); the sample of -70 s arms window 2 (expires -10 s), closed by the one of -5 s.
    const secondsAgo = [200, 180, 130, 70, 40, 5];
    const revisions: string[] = [];
    for (const s of secondsAgo) revisions.push(await put('u-late', now - s * 1000, '99', now - s * 1000));

    const result = await runPolicyCheckBatch(bench.ctx, [ref], hint());
    assert.equal(result.alone, 1, 'the machine fires: checked on its own');
    assert.deepEqual(result.decisions.map((d) => d.outcome), ['scaled', 'scaled'], 'both fires decided, in the job result');
    assert.equal(result.samples, 6, 'each sample evaluated once');

    const all = await records('u-late');
    const armed = all.filter((r) => r.outcome === 'armed');
    const closing = all.filter((r) => r.outcome !== 'armed');
    assert.equal(armed.length, 2, 'two windows');
    assert.deepEqual(closing.map((r) => r.inputs['timerId']).sort(), armed.map((r) => r.inputs['timerId']).sort(), 'each window closed by exactly one record');
    assert.deepEqual(closing.map((r) => r.at).sort(), [now - 140_000, now - 10_000], 'each decided at its own expiry');

    const decided = new Set(closing.map((r) => r.id));
    const actions = (await bench.ctx.store.listActions('web')).filter((a) => decided.has(a.decisionId));
    assert.deepEqual(actions.map((a) => a.instance).sort(), ['web@28081.service', 'web@28082.service'], 'the second decision saw the first action');
    const machine = await stored(ref);
    assert.equal(machine.cursor, revisions.at(-1));
    assert.equal(machine.state.armed, null);
    assert.equal(machine.state.lastSeenTs, now - 5_000);
  });

  test('a timer job whose machine has samples closing two windows decides both', async () => {
    const ref = { service: 'web', policy: 'web_up', machine: 'u-timer' };
    const now = Date.now();
    await put('u-timer', now - 300_000, '50', now - 300_000);
    await runPolicyCheck(bench.ctx, ref, { kind: 'check' });
    for (const s of [200, 180, 130, 70, 40, 5]) await put('u-timer', now - s * 1000, '99', now - s * 1000);
    const result = await runPolicyCheck(bench.ctx, ref, { kind: 'timer', timerId: 'not-this-machines' });
    assert.deepEqual(result.decisions.map((d) => d.outcome), ['scaled', 'scaled']);
    assert.equal(result.samples, 6);
    const all = await records('u-timer');
    assert.equal(all.filter((r) => r.outcome === 'armed').length, 2);
    assert.equal(all.filter((r) => r.outcome === 'scaled').length, 2);
  });

  test('samples are taken in write order: one written after a newer one is out of order, read alone or together', async () => {
    const ref = { service: 'web', policy: 'web_up', machine: 'u-order' };
    const now = Date.now();
    await put('u-order', now - 10_000, '50', now - 10_000);
    await runPolicyCheckBatch(bench.ctx, [ref], hint());
    // Written newest first: the later write (dated earlier) is not newer than the newest seen.
    await put('u-order', now - 2_000, '50', now - 2_000);
    await put('u-order', now - 3_000, '99', now - 1_000);
    const result = await runPolicyCheck(bench.ctx, ref, { kind: 'check' });
    assert.deepEqual({ samples: result.samples, rejected: result.rejected }, { samples: 1, rejected: 1 });
    assert.deepEqual(await records('u-order'), [], 'the breaching sample arms nothing');
    assert.equal((await stored(ref)).state.lastSeenTs, now - 2_000);
  });
});
