import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '@dynamite/domain';
import { SampleWatch, collectIdleState, collectOldDecisions, endCooldown, runPolicyCheck, runPolicyCheckBatch, writeEngineState } from '@dynamite/engine';
import { buildOverview } from '@dynamite/operator';
import { runCli } from '../../operator/support';
import { ACTION_KEY, CORPUS, STAT_KEY, type Variant } from './corpus';
import { BASELINE_UNITS, RecordsBench } from './support';

// The rule: every record read from /_dynamite is checked against its schema; one that fails is skipped, counted
// (dynamite_records_rejected_total{kind,reason}) and logged once with its key -- never acted on, and it never crashes
// a reconcile, a fleet action, a policy check or a view. A well-formed record the engine would never have written
// (a fleet action on units that are not its service's) is refused: recorded as failed, no unit touched.

/** Units a step may legitimately add: in-range instances of web (a bound repair), with their attached units. */
const ENGINE_MAY_CREATE = /^web(_disc)?@2808[12]\.service$/;

async function assertFleetUntouched(bench: RecordsBench, what: string): Promise<void> {
  const units = await bench.units();
  for (const name of BASELINE_UNITS) {
    const unit = units.find((u) => u.name === name);
    assert.ok(unit, `${what}: ${name} was destroyed`);
    assert.equal(unit.desiredState, 'launched', `${what}: ${name} is ${unit.desiredState}`);
  }
  const stray = units.map((u) => u.name).filter((n) => !BASELINE_UNITS.includes(n) && !ENGINE_MAY_CREATE.test(n));
  assert.deepEqual(stray, [], `${what}: the engine created units it must not`);
}

/** What the engine and its views do with the record, besides a reconcile: each read of it must hold. */
async function exercise(bench: RecordsBench, variant: Variant): Promise<void> {
  const { ctx, loaded } = bench;
  const ref = { service: 'web', policy: 'web_up', machine: 'u-1' };
  switch (variant.kind) {
    case 'machine':
    case 'cooldown':
      await runPolicyCheck(ctx, ref, { kind: 'check' });
      await runPolicyCheckBatch(ctx, [ref, { ...ref, machine: 'u-2' }], { revision: '0', receivedAt: Date.now() });
      await runPolicyCheck(ctx, ref, { kind: 'timer', timerId: '0mx0aaaaa-0123456789' });
      await endCooldown(ctx, 'web', 'web_up', '0mx0aaaaa-0123456789');
      await collectIdleState(ctx);
      break;
    case 'action':
      await collectIdleState(ctx);
      break;
    case 'decision': {
      const records = await ctx.store.listDecisions('web', 10);
      assert.ok(records.every((r) => r.id !== variant.key.split('/').pop()), 'the bad decision record is not listed');
      await collectOldDecisions(ctx);
      break;
    }
    case 'stats':
      await ctx.store.incrementStat('samples_rejected_test');
      // A counter that was not a number starts again.
      assert.equal(await ctx.store.getString(STAT_KEY), '1');
      break;
    case 'watch_revision': {
      const watch = new SampleWatch(ctx, loaded.config, { flushEveryMs: 50 });
      await watch.start('recovered');
      try {
        assert.equal(watch.counts.resyncs, 1, 'an untrustworthy revision is resynchronised like a missing one');
        const current = await ctx.store.currentRevision();
        assert.ok(watch.revision !== null && BigInt(watch.revision) <= BigInt(current), `watch at ${watch.revision}, etcd at ${current}`);
      } finally {
        await watch.stop();
      }
      break;
    }
    case 'application_status': {
      const overview = await buildOverview(ctx.store, loaded.config, { now: Date.now(), decisions: 0, fleet: null });
      assert.equal(overview.applicationStatus, 'unreadable');
      // Something wrote a status: an engine ran here before; the scheduler writes it anew.
      assert.equal(await writeEngineState(ctx.store, loaded), 'recovered');
      assert.equal(await ctx.store.getString(keys.applicationStatus), 'Running');
      break;
    }
    default:
      break;
  }
}

describe('hostile /_dynamite records: skipped, counted, logged once, never acted on', () => {
  let bench: RecordsBench;

  before(async () => {
    bench = await RecordsBench.start('records');
  });
  after(async () => {
    await bench?.stop();
  });

  for (const variant of CORPUS) {
    test(`${variant.kind}: ${variant.name}`, async () => {
      try {
        const before = 'rejected' in variant.expect ? await bench.rejectedCount(variant.kind, variant.expect.rejected) : 0;
        const since = bench.logs.length;
        for (const [key, value] of Object.entries(variant.with ?? {})) await bench.ctx.store.etcd.put(key).value(value);
        await bench.ctx.store.etcd.put(variant.key).value(variant.value);

        // The engine, twice: a record is reported once, however often it is read.
        const first = await bench.engineCycle();
        await exercise(bench, variant);
        await bench.engineCycle();
        const overview = await buildOverview(bench.ctx.store, bench.loaded.config, { now: Date.now(), decisions: 10, fleet: { units: await bench.units() } });
        assert.doesNotMatch(JSON.stringify(overview), /NaN|Infinity/);
        await assertFleetUntouched(bench, variant.name);

        if ('rejected' in variant.expect) {
          assert.equal(await bench.rejectedCount(variant.kind, variant.expect.rejected) - before, 1, 'counted once');
          const lines = bench.skippedLines(variant.key, since);
          assert.equal(lines.length, 1, `logged once with its key; got ${lines.map((l) => l.msg).join(' | ')}`);
          assert.equal(lines[0]!.kind, variant.kind);
          assert.equal(lines[0]!.reason, variant.expect.rejected);
        } else {
          const ran = first.find((r) => (r.job.data as { decisionId?: string }).decisionId === ACTION_KEY.split('/').pop());
          assert.ok(ran, 'the action was queued by reconcile and run');
          assert.equal((ran.result as { outcome?: string } | undefined)?.outcome, 'refused', JSON.stringify(ran));
          const stored = JSON.parse((await bench.ctx.store.getString(variant.key))!) as { status: string; error: string };
          assert.equal(stored.status, 'failed');
          assert.match(stored.error, variant.expect.refused);
        }
      } finally {
        await bench.restore();
      }
    });
  }

  /** The workers' config reaches them through a watch: wait until it shows the stored config, then it must reject. */
  async function storedConfigRejected(pattern: RegExp): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (await bench.ctx.config.current().then(() => true, () => false)) {
      if (Date.now() > deadline) assert.fail('the stored config never reached the config source');
      await new Promise((r) => setTimeout(r, 20));
    }
    await assert.rejects(bench.engineCycle(), pattern);
  }

  test('application_configuration: not JSON is a clear error naming the key; a scheduler start with the file replaces it', async () => {
    try {
      await bench.ctx.store.etcd.put(keys.applicationConfiguration).value('{"Dynamite":');
      await storedConfigRejected(/stored configuration is invalid/);
      const { resolveConfig } = await import('@dynamite/engine');
      await assert.rejects(resolveConfig(bench.ctx.store, {}), (err: Error) => {
        assert.equal(err.message, `invalid configuration:\n  ${keys.applicationConfiguration}: the stored config is not JSON; start with -c/--config_file to replace it`);
        return true;
      });
      await assertFleetUntouched(bench, 'a config that is not JSON');
      await writeEngineState(bench.ctx.store, bench.loaded);
      await bench.engineCycle();
    } finally {
      await bench.restore();
    }
  });

  test('application_configuration: a list, or a config that fails validation, stops the engine with the reason and touches no unit', async () => {
    try {
      for (const bad of ['[]', JSON.stringify({ Dynamite: { Service: { web: { min_instance: 'many' } } } })]) {
        await bench.ctx.store.etcd.put(keys.applicationConfiguration).value(bad);
        await storedConfigRejected(/stored configuration is invalid: /);
        await assertFleetUntouched(bench, bad);
      }
    } finally {
      await bench.restore();
    }
  });
});

describe('dynamite status and history with hostile records: no crash, no NaN, the record named on stderr', () => {
  let bench: RecordsBench;

  before(async () => {
    bench = await RecordsBench.start('views');
  });
  after(async () => {
    await bench?.stop();
  });

  const shown = CORPUS.filter((v) => ['instance', 'template', 'machine', 'cooldown', 'action', 'decision', 'application_status'].includes(v.kind) && 'rejected' in v.expect && v.expect.rejected !== 'not_launchable');
  for (const variant of shown) {
    test(`${variant.kind}: ${variant.name}`, async () => {
      try {
        for (const [key, value] of Object.entries(variant.with ?? {})) await bench.ctx.store.etcd.put(key).value(value);
        await bench.ctx.store.etcd.put(variant.key).value(variant.value);
        const args = variant.kind === 'decision' ? ['history', 'web'] : ['status'];
        const r = await runCli([...args, '-e', bench.endpoint]);
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /NaN|undefined|Infinity/);
        // Nothing read from etcd reaches the terminal as a control character.
        assert.doesNotMatch(r.stdout + r.stderr, /[\u0000-\u0008\u000b-\u001f\u007f]/);
        assert.ok(r.stderr.includes(`dynamite: warning: skipped ${variant.kind} record ${JSON.stringify(variant.key)}: `), r.stderr);
      } finally {
        await bench.restore();
      }
    });
  }
});
