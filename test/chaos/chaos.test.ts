import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from './chaos';
import { formatReport } from './report';
import { FAULT_KINDS } from './schedule';

// The one-minute chaos run (`npm run chaos -- --seconds 300` is the long one, docs/chaos.md): 2 schedulers and
// 3 workers under a swinging load, every kind of fault injected at least once, and not one invariant violated.
const SEED = 1;

test(`60 s of chaos (seed ${SEED}): every fault kind injected, no invariant violated, a killed leader replaced`, async (t) => {
  const report = await runChaos({ seed: SEED, seconds: 60 });
  for (const line of formatReport(report).split('\n')) t.diagnostic(line);
  assert.deepEqual(report.violations, [], formatReport(report));
  assert.deepEqual(FAULT_KINDS.filter((k) => !(report.faults[k]! >= 1)), [], 'every fault kind injected');
  for (const check of ['bounds-etcd', 'bounds-fleet', 'instance', 'decision', 'cursor', 'unit-created', 'settled']) {
    assert.ok(report.checks[check]! > 0, `${check} checked`);
  }
  const actions = Object.values(report.actions).flatMap((kinds) => Object.keys(kinds));
  assert.ok(actions.some((k) => k.startsWith('scale_up done')), 'the load scaled services up');
  assert.ok(actions.some((k) => k.startsWith('scale_down done')), 'and down');
  assert.ok(report.failovers.some((f) => f.kind === 'kill-scheduler' && f.electedMs !== null), 'a killed leader was replaced');
});
