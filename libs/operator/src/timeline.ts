import { ACTIONS_QUEUE, cooldownEndAfter, jobIds, type DecisionRecord, type ScalingPolicyConfig } from '@dynamite/domain';
import type { StoredMachineEntry } from '@dynamite/store';
import { BOARD_PATH } from './http/board';
import type { DecisionView } from './overview';

/**
 * A service's last minutes as the `/ui` page draws them, assembled from what etcd records: the policy metric's
 * samples, the decision records (armed windows, fires, suppressions, cooldowns, instance changes) and the policy
 * state (windows armed now). Nothing is kept in memory between reads, so an operator restart loses nothing.
 * Times are wall ms. Windows and decisions are on the engine's clock; samples on the producers' (their key's time).
 * This file is the pure assembly; read-timeline.ts does the reads.
 */

/** One state machine's samples: `[time, value]`, oldest first. */
export interface SampleSeries {
  /** Instance uuid, or `_aggregate`. */
  machine: string;
  points: [number, number][];
  /** Samples whose value the policy cannot read (left out of `points`). */
  unreadable: number;
  /** More samples were written in the window than are read per machine (the oldest are left out). */
  truncated: boolean;
}

/** A period: armed at `from`, ended at `to` (or still running: `open`). */
export interface ArmedWindow {
  machine: string;
  timerId: string;
  from: number;
  to: number;
  /** When it fires if it holds. */
  expiresAt: number;
  open: boolean;
  /** How it ended: `fired` (a scaling decision), `suppressed`, `disarmed`; `armed` while open; `unknown` when no record says. */
  end: 'fired' | 'suppressed' | 'disarmed' | 'armed' | 'unknown';
  /** The suppression reason. */
  reason: string | null;
  /** The record that ended it. */
  decisionId: string | null;
}

/** A cooldown: from the fire that started it to its end. */
export interface CooldownSpan {
  from: number;
  to: number;
  decisionId: string;
}

/** A decision drawn as a mark on a chart (fires, suppressions, and any outcome that is not a window's start or end). */
export interface Mark {
  at: number;
  outcome: string;
  reason: string | null;
  machine: string | null;
  decisionId: string;
  message: string;
}

/** The board job of a decision's fleet action. */
export interface JobLink {
  queue: string;
  id: string;
  /** Path of the job's page in Bull Board, on this listener. */
  path: string;
}

export type TimelineDecision = DecisionView & { job: JobLink | null };

export interface PolicyTimeline {
  name: string;
  direction: 'up' | 'down';
  metric: string;
  operator: 'gt' | 'lt';
  threshold: number;
  thresholdUnit: string | null;
  periodMs: number;
  cooldownMs: number;
  aggregated: boolean;
  /** State machines etcd tracks for the policy; `series` has at most TIMELINE_LIMITS.machines of them. */
  machines: number;
  series: SampleSeries[];
  windows: ArmedWindow[];
  cooldowns: CooldownSpan[];
  marks: Mark[];
}

export interface InstanceChange {
  at: number;
  from: number;
  to: number;
  outcome: string;
  decisionId: string;
}

/** The recorded instance count (creating + launched, what min and max bound) over the window. */
export interface InstanceTimeline {
  /** Step points `[time, count]`, oldest first, from the window's start to its end. */
  points: [number, number][];
  changes: InstanceChange[];
  /** Decisions of the service that belong to no policy (bound repairs, fleet action results, resyncs, ...). */
  marks: Mark[];
}

/** What the page asks for at most, per read: a 1,000-service config costs nothing more (one service is read). */
export const TIMELINE_MINUTES = { min: 1, max: 60, default: 10 } as const;
export const TIMELINE_LIMITS = {
  /** State machines drawn per policy (the most recently updated). */
  machines: 20,
  /** Samples read per state machine (the newest writes). */
  samplesPerMachine: 3600,
  /** Decision records read in the window (the newest). */
  decisions: 2000,
} as const;

/** Outcomes that move the recorded instance count by one, in their direction. */
const COUNT_CHANGES = new Set(['scaled', 'bound_repair']);
/** Outcomes drawn as a window's start or end rather than a mark. */
const WINDOW_EDGES = new Set(['armed', 'disarmed']);

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The decision id of the fleet action a record is about: its own id for a decision, `inputs.decisionId` for a result. */
export function actionDecisionIdOf(record: DecisionRecord): string | null {
  if (record.action === null) return null;
  if (record.outcome === 'scaled' || record.outcome === 'bound_repair') return record.id;
  return str(record.inputs['decisionId']);
}

export function boardJobPath(queue: string, jobId: string): string {
  return `${BOARD_PATH}/queue/${encodeURIComponent(queue)}/${encodeURIComponent(jobId)}`;
}

/** The board job of the fleet action of decision `decisionId` (job id `action|<decisionId>`). */
export function actionJobLink(decisionId: string): JobLink {
  const id = jobIds.action(decisionId);
  return { queue: ACTIONS_QUEUE, id, path: boardJobPath(ACTIONS_QUEUE, id) };
}

export function jobLinkOf(record: DecisionRecord): JobLink | null {
  const decisionId = actionDecisionIdOf(record);
  return decisionId === null ? null : actionJobLink(decisionId);
}

function markOf(r: DecisionRecord): Mark {
  return { at: r.at, outcome: r.outcome, reason: r.reason, machine: r.machine, decisionId: r.id, message: r.message };
}

/**
 * The armed windows of one policy: each record that ended a window (disarmed, or a fire's `scaled`/`suppressed`)
 * names its window (`inputs.timerId`, `inputs.armedAt`), even one armed before the view starts; windows armed now
 * come from the state machines; an `armed` record whose window neither ended in a record nor runs now ended
 * unrecorded (`unknown`, at its expiry).
 */
export function windowsOf(records: DecisionRecord[], machines: StoredMachineEntry[], now: number): ArmedWindow[] {
  const windows = new Map<string, ArmedWindow>();
  const armedRecords: DecisionRecord[] = [];
  for (const r of records) {
    const timerId = str(r.inputs['timerId']);
    const armedAt = num(r.inputs['armedAt']);
    const expiresAt = num(r.inputs['expiresAt']) ?? r.at;
    if (timerId === null || armedAt === null) continue;
    if (r.outcome === 'armed') {
      armedRecords.push(r);
      continue;
    }
    const end = r.outcome === 'scaled' ? 'fired' : r.outcome === 'suppressed' ? 'suppressed' : r.outcome === 'disarmed' ? 'disarmed' : null;
    if (end === null) continue;
    windows.set(timerId, { machine: r.machine ?? '', timerId, from: armedAt, to: r.at, expiresAt, open: false, end, reason: end === 'suppressed' ? r.reason : null, decisionId: r.id });
  }
  for (const m of machines) {
    const a = m.stored.state.armed;
    if (!a || windows.has(a.timerId)) continue;
    windows.set(a.timerId, { machine: m.machine, timerId: a.timerId, from: a.armedAt, to: Math.max(a.armedAt, now), expiresAt: a.expiresAt, open: true, end: 'armed', reason: null, decisionId: null });
  }
  for (const r of armedRecords) {
    const timerId = str(r.inputs['timerId'])!;
    if (windows.has(timerId)) continue;
    const from = num(r.inputs['armedAt'])!;
    const expiresAt = num(r.inputs['expiresAt']) ?? from;
    windows.set(timerId, { machine: r.machine ?? '', timerId, from, to: Math.min(expiresAt, now), expiresAt, open: false, end: 'unknown', reason: null, decisionId: null });
  }
  return [...windows.values()].sort((a, b) => a.from - b.from || a.machine.localeCompare(b.machine));
}

/** Cooldowns of one policy: one per fire that decided an action, plus the one etcd records now (its fire may be older). */
export function cooldownsOf(policy: ScalingPolicyConfig, records: DecisionRecord[], current: { until: number; decisionId: string } | null): CooldownSpan[] {
  const spans = new Map<string, CooldownSpan>();
  for (const r of records) {
    if (r.outcome === 'scaled') spans.set(r.id, { from: r.at, to: cooldownEndAfter(policy, r.at), decisionId: r.id });
  }
  if (current && !spans.has(current.decisionId)) {
    spans.set(current.decisionId, { from: current.until - policy.cooldownMs, to: current.until, decisionId: current.decisionId });
  }
  return [...spans.values()].sort((a, b) => a.from - b.from);
}

/** The policy's records drawn as marks: everything but the windows' starts and ends. */
export function policyMarksOf(records: DecisionRecord[]): Mark[] {
  return records.filter((r) => !WINDOW_EDGES.has(r.outcome)).map(markOf).sort((a, b) => a.at - b.at);
}

/**
 * The recorded instance count over [from, to]. Each decision that changed it (`scaled`, `bound_repair`) says the
 * count it saw (`inputs.instancesBefore.active`) and moves it by one; the count at `to` is what etcd records now.
 * Before the first change the count is that change's `before`; with no change in the window it is the current one.
 */
export function instanceTimelineOf(records: DecisionRecord[], current: number, from: number, to: number): InstanceTimeline {
  const ascending = records.slice().sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));
  const changes: InstanceChange[] = [];
  let running: number | null = null;
  for (const r of ascending) {
    if (!COUNT_CHANGES.has(r.outcome) || r.action === null) continue;
    const before: number = num((r.inputs['instancesBefore'] as Record<string, unknown> | undefined)?.['active']) ?? running ?? current;
    const after: number = before + (r.action.kind === 'scale_up' ? 1 : -1);
    changes.push({ at: r.at, from: before, to: after, outcome: r.outcome, decisionId: r.id });
    running = after;
  }
  const points: [number, number][] = [[from, changes[0]?.from ?? current]];
  for (const c of changes) points.push([c.at, c.from], [c.at, c.to]);
  points.push([to, current]);
  const marks = ascending.filter((r) => r.policy === null && !COUNT_CHANGES.has(r.outcome)).map(markOf);
  return { points, changes, marks };
}
