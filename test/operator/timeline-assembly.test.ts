import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecisionRecord, ScalingPolicyConfig } from '@dynamite/domain';
import type { StoredMachineEntry } from '@dynamite/store';
import { cooldownsOf, instanceTimelineOf, jobLinkOf, policyMarksOf, windowsOf } from '@dynamite/operator';

/** The pure half of the timeline: what the page draws from decision records and policy state. */

const policy: ScalingPolicyConfig = {
  name: 'web_up', serviceType: 'webserver', metric: 'cpu_user', metricDir: 'cpu_user', valuePath: null, aggregated: false,
  operator: 'gt', threshold: 80, thresholdUnit: null, periodMs: 30_000, cooldownMs: 60_000, staleAfterMs: 60_000,
};

function record(r: Partial<DecisionRecord> & Pick<DecisionRecord, 'id' | 'at' | 'outcome'>): DecisionRecord {
  return { service: 'web', policy: 'web_up', machine: 'm1', direction: 'up', reason: null, rule: null, inputs: {}, action: null, message: r.outcome, ...r };
}

const armedWindow = (timerId: string, armedAt: number) => ({ timerId, armedAt, expiresAt: armedAt + 30_000 });

function armedMachine(machine: string, timerId: string, armedAt: number): StoredMachineEntry {
  return {
    service: 'web', policy: 'web_up', machine,
    stored: { cursor: null, updatedAt: armedAt, state: { lastSeenKey: null, lastSeenTs: null, cooldownNotedUntil: null, armed: {
      timerId, armedAt, expiresAt: armedAt + 30_000, samples: 1, firstSampleKey: 'a', newestSampleKey: 'a', newestValue: 90, newestReceivedAt: armedAt,
    } } },
  } as StoredMachineEntry;
}

describe('timeline assembly', () => {
  test('windows: each closing record names its window, even one armed before the records read; open ones come from the state machines', () => {
    const records = [
      record({ id: 'a1', at: 1_000, outcome: 'armed', inputs: armedWindow('t1', 1_000) }),
      record({ id: 'f1', at: 31_000, outcome: 'scaled', reason: 'web_up', inputs: armedWindow('t1', 1_000), action: { kind: 'scale_up', instance: 'web@2.service', attached: [] } }),
      // armed long before: only its end is among the records
      record({ id: 'd0', at: 40_000, outcome: 'disarmed', inputs: armedWindow('t0', -500_000) }),
      record({ id: 's2', at: 95_000, outcome: 'suppressed', reason: 'too_few_samples', inputs: armedWindow('t2', 65_000) }),
      // an armed record whose window no record ended and no machine runs: ended unrecorded at its expiry
      record({ id: 'a4', at: 100_000, outcome: 'armed', machine: 'm2', inputs: armedWindow('t4', 100_000) }),
      // a suppression without a window (a breaching sample during a cooldown) is a mark, not a window
      record({ id: 'c1', at: 50_000, outcome: 'suppressed', reason: 'cooldown', inputs: { cooldownUntil: 91_000 } }),
    ];
    const windows = windowsOf(records, [armedMachine('m3', 't5', 150_000)], 160_000);
    assert.deepEqual(windows.map((w) => [w.timerId, w.machine, w.from, w.to, w.end, w.reason, w.open, w.decisionId]), [
      ['t0', 'm1', -500_000, 40_000, 'disarmed', null, false, 'd0'],
      ['t1', 'm1', 1_000, 31_000, 'fired', null, false, 'f1'],
      ['t2', 'm1', 65_000, 95_000, 'suppressed', 'too_few_samples', false, 's2'],
      ['t4', 'm2', 100_000, 130_000, 'unknown', null, false, null],
      ['t5', 'm3', 150_000, 160_000, 'armed', null, true, null],
    ]);
    assert.deepEqual(policyMarksOf(records).map((m) => [m.decisionId, m.outcome, m.reason]), [
      ['f1', 'scaled', 'web_up'], ['c1', 'suppressed', 'cooldown'], ['s2', 'suppressed', 'too_few_samples'],
    ]);
  });

  test('cooldowns: one per fire that decided an action, plus the current one when its fire is older', () => {
    const fire = record({ id: 'f1', at: 31_000, outcome: 'scaled', action: { kind: 'scale_up', instance: 'web@2.service', attached: [] } });
    assert.deepEqual(cooldownsOf(policy, [fire], { until: 91_000, decisionId: 'f1' }), [{ from: 31_000, to: 91_000, decisionId: 'f1' }]);
    assert.deepEqual(cooldownsOf(policy, [], { until: 91_000, decisionId: 'f0' }), [{ from: 31_000, to: 91_000, decisionId: 'f0' }]);
    assert.deepEqual(cooldownsOf(policy, [], null), []);
  });

  test('instance count: each change says the count it saw; the end is the count etcd records now', () => {
    const up = (id: string, at: number, before: number, outcome: 'scaled' | 'bound_repair' = 'scaled') =>
      record({ id, at, outcome, action: { kind: 'scale_up', instance: `web@${id}.service`, attached: [] }, inputs: { instancesBefore: { active: before, creating: 0, launched: before, destroying: 0 } } });
    const down = record({ id: 'x3', at: 300, outcome: 'scaled', direction: 'down', action: { kind: 'scale_down', instance: 'web@1.service', attached: [] }, inputs: { instancesBefore: { active: 3 } } });
    const done = record({ id: 'r1', at: 150, outcome: 'action_done', policy: null, machine: null, action: { kind: 'scale_up', instance: 'web@x1.service', attached: [] }, inputs: { decisionId: 'x1' } });
    const future = record({ id: 'p1', at: 350, outcome: 'paused' as DecisionRecord['outcome'], policy: null, machine: null });
    const t = instanceTimelineOf([down, done, up('x2', 200, 2), up('x1', 100, 1, 'bound_repair'), future], 2, 0, 400);
    assert.deepEqual(t.points, [[0, 1], [100, 1], [100, 2], [200, 2], [200, 3], [300, 3], [300, 2], [400, 2]]);
    assert.deepEqual(t.changes.map((c) => [c.decisionId, c.from, c.to, c.outcome]), [['x1', 1, 2, 'bound_repair'], ['x2', 2, 3, 'scaled'], ['x3', 3, 2, 'scaled']]);
    // Results of fleet actions and outcomes this page does not know yet are marks.
    assert.deepEqual(t.marks.map((m) => m.outcome), ['action_done', 'paused']);
    assert.deepEqual(instanceTimelineOf([], 4, 0, 400).points, [[0, 4], [400, 4]]);
  });

  test('a decision and its fleet action result link the same board job', () => {
    const decided = record({ id: '0mwxoddx3-bec4557bde', at: 1, outcome: 'scaled', action: { kind: 'scale_up', instance: 'web@2.service', attached: [] } });
    const result = record({ id: 'r', at: 2, outcome: 'action_done', action: decided.action, inputs: { decisionId: decided.id } });
    const expected = { queue: 'actions', id: 'action|0mwxoddx3-bec4557bde', path: '/admin/queues/queue/actions/action%7C0mwxoddx3-bec4557bde' };
    assert.deepEqual(jobLinkOf(decided), expected);
    assert.deepEqual(jobLinkOf(result), expected);
    assert.equal(jobLinkOf(record({ id: 'a', at: 1, outcome: 'armed' })), null);
  });
});
