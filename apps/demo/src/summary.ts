import type { DecisionRecord } from '@dynamite/domain';

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

/** The verdict: the demo shows autoscaling only when load scaled the service up and then down again. */
export function verdict(s: DemoSummary): { ok: boolean; message: string } {
  const up = s.scaleUps.length;
  const down = s.scaleDowns.length;
  if (up >= 1 && down >= 1) return { ok: true, message: `OK: the load scaled the service up ${up}x and back down ${down}x` };
  const missing = [up === 0 ? 'no scale up happened' : null, down === 0 ? 'no scale down happened' : null].filter(Boolean).join(' and ');
  return { ok: false, message: `FAILED: ${missing} (expected at least one of each); see the decision records above and the logs` };
}
