import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '@dynamite/domain';
import { EngineHarness, sampleKey, sleep, waitFor, webServiceConfig } from '../support/engine-harness';

// Guarantee 3: with 4 workers of concurrency 8 and a burst of breaching samples on many instances at once, the
// instance count never leaves [min, max] and every decision yields exactly one action.
describe('bounds hold under concurrency', () => {
  let h: EngineHarness;
  const MAX = 4;

  before(async () => {
    // cooldown 0: nothing but the bounds transaction stands between 20 simultaneous fires and the fleet.
    h = await EngineHarness.start({ suite: 'bounds', ...webServiceConfig({ min: 1, max: MAX, upPeriod: 1, cooldown: 0 }) });
    h.spawn('scheduler');
    for (let i = 0; i < 4; i += 1) h.spawn('worker', ['--concurrency', '8']);
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 20_000, 'min instance launched', h);
  });
  after(async () => { await h.stop(); });

  /** The scale-up state machines of the burst, as stored in etcd, by uuid. */
  async function machines(): Promise<Record<string, { state: { armed: { timerId: string } | null } }>> {
    const prefix = keys.machinePrefix('web', 'web_up');
    const all = await h.etcd.getAll().prefix(prefix).json();
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k.slice(prefix.length), v as { state: { armed: { timerId: string } | null } }]));
  }

  test('20 instances breaching at once produce exactly max - 1 scale ups, never more than max units', async () => {
    const uuids = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    let maxSeen = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const webs = (await h.unitNames().catch(() => [])).filter((n) => n.startsWith('web@'));
        maxSeen = Math.max(maxSeen, webs.length);
        await sleep(50);
      }
    })();
    let m: Awaited<ReturnType<typeof machines>>;
    try {
      const started = Date.now();
      let lastRevision = '0';
      // Each uuid writes breaching samples for ~2.5 s: every state machine arms and expires at about the same time.
      while (Date.now() - started < 2_500) {
        const revisions = await Promise.all(uuids.map((u) => h.put(sampleKey('webserver', u, 'cpu_user', Date.now()), '99')));
        lastRevision = revisions.reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b));
        await sleep(100);
      }
      // Quiescent: every sample evaluated and every window's timer run (the checks queue holds nothing), then every
      // decided action done.
      await h.waitForIdle(lastRevision, 30_000);
      await waitFor(async () => (await h.actionJobsInProgress()) === 0 && (await h.actions('web')).every((a) => a.status === 'done'), 30_000, 'every action done', h);
      m = await machines();
    } finally {
      polling = false;
      await poller;
    }
    assert.deepEqual(uuids.filter((u) => m[u] === undefined || m[u].state.armed !== null), [], 'every window of the 20 machines closed');

    const webs = (await h.unitNames()).filter((n) => n.startsWith('web@'));
    assert.equal(webs.length, MAX);
    assert.ok(maxSeen <= MAX, `saw ${maxSeen} web units at once`);
    const decisions = await h.decisions('web');
    const scaled = decisions.filter((d) => d.outcome === 'scaled');
    const actions = await h.actions('web');
    assert.equal(scaled.length, MAX - 1, 'one scale decision per free slot');
    // every decision (the policy's and the min_instance repair at start) yields exactly one action, and every
    // action comes from one decision
    const deciding = decisions.filter((d) => d.outcome === 'scaled' || d.outcome === 'bound_repair');
    assert.equal(deciding.length, MAX);
    assert.deepEqual(actions.map((a) => a.decisionId).sort(), deciding.map((d) => d.id).sort());
    assert.ok(actions.every((a) => a.status === 'done'));
    assert.equal(new Set(actions.map((a) => a.instance)).size, actions.length, 'no instance decided twice');
    const instances = await h.instances('web');
    assert.equal(Object.keys(instances).length, MAX);

    // Every window of every machine closed with exactly one record. With cooldown 0 a machine arms again after its
    // window closed while samples go on, so there are more windows than machines (about 30 of 20 machines).
    const up = decisions.filter((d) => d.policy === 'web_up');
    assert.deepEqual([...new Set(up.map((d) => d.outcome))].filter((o) => o !== 'armed' && o !== 'scaled' && o !== 'suppressed'), [], 'only windows opening and closing');
    const armed = up.filter((d) => d.outcome === 'armed');
    assert.deepEqual([...new Set(armed.map((d) => d.machine))].sort(), [...uuids].sort(), 'every machine armed');
    const timerOf = (d: { inputs: Record<string, unknown> }) => d.inputs['timerId'] as string | undefined;
    const closing = up.filter((d) => d.outcome !== 'armed' && timerOf(d) !== undefined);
    assert.deepEqual(closing.map(timerOf).sort(), armed.map(timerOf).sort(), 'each window closed by exactly one record');
    // Each record that did not scale says why, by the exact rule of closeWindow (machine.ts) and decideUp (decide.ts):
    // fewer than 2 samples (a window armed by the last samples of the burst), or the bounds transaction saw max
    // instances, or another machine's fire (cooldown 0: its cooldown ends at its own expiry) closed after this
    // window's expiry. Never by a second action.
    for (const d of closing) {
      const samples = d.inputs['samples'] as number;
      const active = (d.inputs['instancesBefore'] as { active: number } | undefined)?.active;
      const why = `${d.outcome} ${d.reason} on ${d.machine}: ${JSON.stringify(d.inputs)}`;
      if (d.outcome === 'scaled') assert.ok(samples >= 2 && active !== undefined && active < MAX, why);
      else if (d.reason === 'too_few_samples') assert.ok(samples < 2, why);
      else if (d.reason === 'max_instance') assert.ok(samples >= 2 && active === MAX, why);
      else if (d.reason === 'cooldown') assert.ok(samples >= 2 && (d.inputs['expiresAt'] as number) < (d.inputs['cooldownUntil'] as number), why);
      else assert.fail(`a window closed for another reason: ${why}`);
    }
    // Breaching samples that arrived inside such a cooldown armed nothing, and say so.
    for (const d of up.filter((r) => r.outcome === 'suppressed' && timerOf(r) === undefined)) {
      assert.equal(d.reason, 'cooldown', JSON.stringify(d));
      assert.ok((d.inputs['receivedAt'] as number) < (d.inputs['cooldownUntil'] as number), JSON.stringify(d));
    }
  });
});
