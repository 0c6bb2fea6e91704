import {
  AGGREGATE_MACHINE,
  findPolicy,
  machineSamplePrefix,
  parseSampleKey,
  parseSampleValue,
  type DecisionRecord,
  type DynamiteConfig,
  type ScalingPolicyConfig,
} from '@dynamite/domain';
import type { StateStore, StoredMachineEntry } from '@dynamite/store';
import { decisionView, type PolicyView, type ServiceView } from './overview';
import type { PauseView } from './controls';
import {
  TIMELINE_LIMITS,
  actionJobLink,
  cooldownsOf,
  instanceTimelineOf,
  jobLinkOf,
  policyMarksOf,
  windowsOf,
  type InstanceTimeline,
  type PolicyTimeline,
  type SampleSeries,
  type TimelineDecision,
} from './timeline';

/** `GET /api/services/:name/timeline`: the service now (from the overview) and its last minutes (from etcd). */
export interface ServiceTimeline {
  service: string;
  time: string;
  minutes: number;
  from: number;
  to: number;
  configured: boolean;
  min: number | null;
  max: number | null;
  desired: number;
  actual: number | null;
  paused: PauseView | null;
  policies: (PolicyView & PolicyTimeline)[];
  instances: InstanceTimeline;
  /** The newest decision records (whatever their age), with the board job of each fleet action. */
  decisions: TimelineDecision[];
  /** Actions not done: pending, or failed and waiting for a retry on the board. */
  actions: (ServiceView['actions'][number] & { job: TimelineDecision['job'] })[];
  limits: typeof TIMELINE_LIMITS;
}

/**
 * A state machine's samples since `from`: the newest TIMELINE_LIMITS.samplesPerMachine writes under its prefix
 * (newest written first, so a producer's odd timestamps cannot hide the recent ones), timed by their key.
 */
async function readSeries(store: StateStore, config: DynamiteConfig, policy: ScalingPolicyConfig, machine: string, from: number): Promise<SampleSeries> {
  const prefix = machineSamplePrefix(config, policy, machine);
  const limit = TIMELINE_LIMITS.samplesPerMachine;
  const res = await store.etcd.getAll().prefix(prefix).sort('Mod', 'Descend').limit(limit).exec();
  const points: [number, number][] = [];
  let unreadable = 0;
  let older = false;
  for (const kv of res.kvs) {
    const key = kv.key.toString('utf8');
    if (key.slice(prefix.length).includes('/')) continue;
    const parsed = parseSampleKey(key, config.etcd.metricsBasePath);
    if (!parsed.ok) continue;
    if (parsed.sample.ts < from) {
      older = true;
      continue;
    }
    const value = parseSampleValue(kv.value.toString('utf8'), policy);
    if (value.ok) points.push([parsed.sample.ts, value.value]);
    else unreadable += 1;
  }
  points.sort((a, b) => a[0] - b[0]);
  return { machine, points, unreadable, truncated: res.kvs.length >= limit && !older };
}

/** The machines drawn for a policy: the aggregate, or the most recently updated per-instance machines. */
function machinesToDraw(policy: ScalingPolicyConfig, own: StoredMachineEntry[]): string[] {
  if (policy.aggregated) return [AGGREGATE_MACHINE];
  return own
    .slice()
    .sort((a, b) => b.stored.updatedAt - a.stored.updatedAt || a.machine.localeCompare(b.machine))
    .slice(0, TIMELINE_LIMITS.machines)
    .map((m) => m.machine)
    .sort();
}

/**
 * Reads one service's timeline: its policy state, its decision records since `from` and each drawn machine's
 * samples; `view` is the service as the overview shows it now (counts, bounds, policy states, pause).
 */
export async function readServiceTimeline(
  store: StateStore,
  config: DynamiteConfig,
  view: ServiceView,
  opts: { now: number; minutes: number; recent: DecisionRecord[] },
): Promise<ServiceTimeline> {
  const { now, minutes } = opts;
  const from = now - minutes * 60_000;
  const [{ machines, cooldowns }, records] = await Promise.all([
    store.listPolicyState(view.name),
    store.listDecisionsSince(view.name, from, TIMELINE_LIMITS.decisions),
  ]);
  const policies = await Promise.all(view.policies.map(async (pv): Promise<PolicyView & PolicyTimeline> => {
    const policy = findPolicy(config, pv.name)!;
    const own = machines.filter((m) => m.policy === policy.name);
    const mine = records.filter((r) => r.policy === policy.name);
    const series = await Promise.all(machinesToDraw(policy, own).map((m) => readSeries(store, config, policy, m, from)));
    const current = cooldowns.find((c) => c.policy === policy.name)?.cooldown ?? null;
    return {
      ...pv,
      metric: policy.metric,
      operator: policy.operator,
      threshold: policy.threshold,
      thresholdUnit: policy.thresholdUnit,
      periodMs: policy.periodMs,
      cooldownMs: policy.cooldownMs,
      aggregated: policy.aggregated,
      machines: own.length,
      series,
      windows: windowsOf(mine, own, now),
      cooldowns: cooldownsOf(policy, mine, current),
      marks: policyMarksOf(mine),
    };
  }));
  return {
    service: view.name,
    time: new Date(now).toISOString(),
    minutes,
    from,
    to: now,
    configured: view.configured,
    min: view.min,
    max: view.max,
    desired: view.desired,
    actual: view.actual,
    paused: view.paused,
    policies,
    instances: instanceTimelineOf(records, view.desired, from, now),
    decisions: opts.recent.map((r) => ({ ...decisionView(r), job: jobLinkOf(r) })),
    actions: view.actions.map((a) => ({ ...a, job: actionJobLink(a.decisionId) })),
    limits: TIMELINE_LIMITS,
  };
}
