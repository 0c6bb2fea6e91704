import { pausedWhat, pauseApplies, type DecisionRecord } from '@dynamite/domain';
import type { PauseRecord } from '@dynamite/store';

/** One executed scaling action, matched from its `scaled` decision record and its `action_done` record. */
export interface ScalingEvent {
  direction: 'up' | 'down';
  instance: string;
  policy: string | null;
  decisionId: string;
  /** When the first breaching sample of the window arrived (engine wall ms). */
  breachAt: number | null;
  /** The window's expiry: when the decision was made. */
  decidedAt: number;
  /** When the action was done (instance launched, or destroyed); null when not (yet). */
  doneAt: number | null;
  failed: string | null;
}

export interface DemoSummary {
  records: number;
  byOutcome: Record<string, number>;
  suppressedBy: Record<string, number>;
  events: ScalingEvent[];
  scaleUps: ScalingEvent[];
  scaleDowns: ScalingEvent[];
  failedActions: number;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Pure: the summary of a run's decision records. */
export function summarize(records: DecisionRecord[]): DemoSummary {
  const byOutcome: Record<string, number> = {};
  const suppressedBy: Record<string, number> = {};
  const done = new Map<string, DecisionRecord>();
  for (const r of records) {
    byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
    if (r.outcome === 'suppressed') suppressedBy[r.reason ?? 'unknown'] = (suppressedBy[r.reason ?? 'unknown'] ?? 0) + 1;
    if (r.outcome === 'action_done' || r.outcome === 'action_failed') {
      const id = r.inputs['decisionId'];
      if (typeof id === 'string') done.set(id, r);
    }
  }
  const events: ScalingEvent[] = records
    .filter((r) => r.outcome === 'scaled' && r.action !== null && (r.direction === 'up' || r.direction === 'down'))
    .sort((a, b) => a.at - b.at)
    .map((r) => {
      const end = done.get(r.id);
      return {
        direction: r.direction as 'up' | 'down',
        instance: r.action!.instance,
        policy: r.policy,
        decisionId: r.id,
        breachAt: num(r.inputs['armedAt']),
        decidedAt: r.at,
        doneAt: end?.outcome === 'action_done' ? end.at : null,
        failed: end?.outcome === 'action_failed' ? (end.reason ?? 'failed') : null,
      };
    });
  const executed = events.filter((e) => e.doneAt !== null);
  return {
    records: records.length,
    byOutcome,
    suppressedBy,
    events,
    scaleUps: executed.filter((e) => e.direction === 'up'),
    scaleDowns: executed.filter((e) => e.direction === 'down'),
    failedActions: byOutcome['action_failed'] ?? 0,
  };
}

/** An operator's pause as etcd ordered it: the revisions of the write that set it and of the one that removed it. */
export interface PauseSpan {
  record: PauseRecord;
  fromRevision: bigint;
  /** null: still set. */
  toRevision: bigint | null;
}

/** What a pause held. */
export interface PauseSummary {
  record: PauseRecord;
  /** Wall ms it was removed (as the demo saw it), null while set. */
  endedAt: number | null;
  /** Windows of a paused direction that fired while it was set, recorded `suppressed` with reason `paused`. */
  heldWindows: number;
  /** Instances a scaling decision of a paused direction moved while it applied: the engine must make none. */
  movedWhilePaused: string[];
}

/**
 * Pure: what `pause` held, from the decision records and their etcd revisions. A record committed after the write
 * that set the pause and before the one that removed it was decided with the pause (the engine guards each commit
 * with the pause key's revision), so a `scaled` or `bound_repair` record of a paused direction in between (at a
 * time the pause applies) is a broken pause.
 */
export function summarizePause(decisions: { record: DecisionRecord; revision: bigint }[], pause: PauseSpan & { endedAt: number | null }): PauseSummary {
  const during = decisions.filter((d) => d.revision > pause.fromRevision && (pause.toRevision === null || d.revision < pause.toRevision));
  const paused = (r: DecisionRecord) => (r.direction === 'up' || r.direction === 'down') && pauseApplies(pause.record, r.direction, r.at);
  return {
    record: pause.record,
    endedAt: pause.endedAt,
    heldWindows: during.filter((d) => d.record.outcome === 'suppressed' && d.record.reason === 'paused').length,
    movedWhilePaused: during
      .filter((d) => (d.record.outcome === 'scaled' || d.record.outcome === 'bound_repair') && paused(d.record))
      .flatMap((d) => d.record.actions?.map((a) => a.instance) ?? (d.record.action ? [d.record.action.instance] : [])),
  };
}

/** One line: `scaling up paused +10.2s .. +24.9s by ... ("why"): 2 windows recorded suppressed: paused, no scale up while paused`. */
export function pauseSummaryLine(p: PauseSummary, t0: number): string {
  const what = pausedWhat(p.record);
  const since = (at: number) => `+${((at - t0) / 1000).toFixed(1)}s`;
  const span = `${since(p.record.at)} .. ${p.endedAt === null ? 'still set' : since(p.endedAt)}`;
  const moved = p.movedWhilePaused.length === 0
    ? `no ${what.replace(/^scaling /, 'scale ')} while paused`
    : `BROKEN: ${p.movedWhilePaused.length} instance(s) moved while paused (${p.movedWhilePaused.join(', ')})`;
  return `${what} paused ${span}${p.record.by ? ` by ${p.record.by}` : ''} (${JSON.stringify(p.record.reason)}): ` +
    `${p.heldWindows} window${p.heldWindows === 1 ? '' : 's'} recorded suppressed: paused, ${moved}`;
}

export function seconds(ms: number | null): string {
  return ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

const OUTCOME_ORDER = ['armed', 'disarmed', 'scaled', 'suppressed', 'action_done', 'action_failed', 'bound_repair', 'resync'];
const rank = (outcome: string) => {
  const i = OUTCOME_ORDER.indexOf(outcome);
  return i < 0 ? OUTCOME_ORDER.length : i;
};

export interface SummaryContext {
  totalS: number;
  startupS: number;
  trafficS: number;
  instancesAtStart: number;
  instancesPeak: number;
  instancesAtEnd: number;
  minInstance: number;
  maxInstance: number;
  requests: { ok: number; rejected: number; failed: number; dropped: number };
  peakRate: number;
  /** The operator's pauses during the run, and the wall ms the `+12.3s` times count from. */
  pauses: PauseSummary[];
  t0: number;
}

/** The summary as printed at the end; `scale ups: N` / `scale downs: N` lines are what scripts look for. */
export function formatSummary(s: DemoSummary, ctx: SummaryContext): string[] {
  const outcomes = Object.keys(s.byOutcome)
    .sort((a, b) => rank(a) - rank(b))
    .map((k) => `${s.byOutcome[k]} ${k}`)
    .join(', ');
  const suppressed = Object.entries(s.suppressedBy).map(([k, v]) => `${k} ${v}`).join(', ');
  const lines = [
    'summary',
    `  ran ${ctx.totalS.toFixed(1)} s: startup ${ctx.startupS.toFixed(1)} s, traffic ${ctx.trafficS.toFixed(1)} s, then shutdown`,
    `  decisions: ${s.records} records${outcomes ? `: ${outcomes}` : ''}${suppressed ? ` (suppressed: ${suppressed})` : ''}`,
  ];
  const list = (label: string, events: ScalingEvent[], verb: string) => {
    lines.push(`  ${label}: ${events.length}`);
    for (const e of events) {
      const breach = e.breachAt === null || e.doneAt === null ? null : e.doneAt - e.breachAt;
      const decided = e.doneAt === null ? null : e.doneAt - e.decidedAt;
      lines.push(`    ${e.instance.padEnd(26)} breach -> ${verb} ${seconds(breach)} (decision -> ${verb} ${seconds(decided)})`);
    }
  };
  for (const p of ctx.pauses) lines.push(`  pause: ${pauseSummaryLine(p, ctx.t0)}`);
  list('scale ups', s.scaleUps, 'launched');
  list('scale downs', s.scaleDowns, 'destroyed');
  const ups = s.scaleUps.map((e) => (e.breachAt === null || e.doneAt === null ? null : e.doneAt - e.breachAt)).filter((v): v is number => v !== null);
  if (ups.length > 0) {
    const mean = ups.reduce((a, b) => a + b, 0) / ups.length;
    lines.push(`  time from breach to new instance launched: mean ${seconds(mean)}, max ${seconds(Math.max(...ups))}`);
  }
  const pending = s.events.filter((e) => e.doneAt === null && e.failed === null).length;
  lines.push(`  actions: ${s.scaleUps.length + s.scaleDowns.length} done, ${s.failedActions} failed${pending ? `, ${pending} not finished` : ''}`);
  lines.push(
    `  instances: ${ctx.instancesAtStart} at start, ${ctx.instancesPeak} at peak, ${ctx.instancesAtEnd} at the end ` +
      `(min ${ctx.minInstance}, max ${ctx.maxInstance})`,
  );
  lines.push(
    `  traffic: ${ctx.requests.ok} requests served, ${ctx.requests.rejected} shed by saturated instances (503), ` +
      `${ctx.requests.failed} failed, ${ctx.requests.dropped} not sent; peak ${ctx.peakRate} req/s offered`,
  );
  return lines;
}

/**
 * The verdict: the demo shows autoscaling only when load scaled the service up and then down again; with `pauses`
 * (the run planned one) also that the pause held: at least one window recorded `paused`, nothing moved meanwhile.
 */
export function verdict(s: DemoSummary, pauses?: PauseSummary[]): { ok: boolean; message: string } {
  const up = s.scaleUps.length;
  const down = s.scaleDowns.length;
  const held = pauses?.reduce((n, p) => n + p.heldWindows, 0) ?? 0;
  const moved = pauses?.flatMap((p) => p.movedWhilePaused) ?? [];
  const problems = [
    up === 0 ? 'no scale up happened' : null,
    down === 0 ? 'no scale down happened' : null,
    pauses !== undefined && pauses.length === 0 ? 'scaling up was never paused' : null,
    pauses !== undefined && pauses.length > 0 && held === 0 ? 'no window was recorded suppressed: paused while scaling up was paused' : null,
    moved.length > 0 ? `the pause did not hold: ${moved.join(', ')} moved while paused` : null,
  ].filter((p): p is string => p !== null);
  if (problems.length === 0) {
    const pauseNote = pauses === undefined ? '' : `; the pause held ${held} scale-up window${held === 1 ? '' : 's'}`;
    return { ok: true, message: `OK: the load scaled the service up ${up}x and back down ${down}x${pauseNote}` };
  }
  return { ok: false, message: `FAILED: ${problems.join(' and ')}; see the decision records above and the logs` };
}
