import { pausedWhat, type DecisionRecord, type ScalingPolicyConfig, type ServiceConfig } from '@dynamite/domain';
import type { OperatorListener } from './listener';
import type { LoadStats } from './load-generator';
import type { Observer, ObservedDecision, ObservedPause } from './observer';
import { phaseLabel, type PhaseAt } from './phases';
import { seconds, summarizePause } from './summary';

export interface ViewInput {
  now: number;
  t0: number;
  phase: PhaseAt;
  phaseCount: number;
  load: LoadStats;
  listener: OperatorListener;
  /** What the traffic waits for at the end of its phase (`the pause to be in place`), or null. */
  waitingFor: string | null;
  service: ServiceConfig;
  attached: string[];
  policies: ScalingPolicyConfig[];
  observer: Observer;
  keep: boolean;
}

const since = (t0: number, at: number) => `+${((at - t0) / 1000).toFixed(1)}s`;
const short = (uuid: string | null) => (uuid === null ? '-' : uuid.slice(0, 8));

function bar(value: number, threshold: { up: number; down: number }): string {
  const width = 20;
  const filled = Math.max(0, Math.min(width, Math.round((value / 100) * width)));
  const mark = value > threshold.up ? ' HIGH' : value < threshold.down ? ' low' : '';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${value.toFixed(1).padStart(5)}%${mark}`;
}

function policyLabel(policy: string | null, policies: ScalingPolicyConfig[]): string {
  const p = policies.find((x) => x.name === policy);
  if (!p) return policy ?? '-';
  return p.operator === 'gt' ? 'scale up' : 'scale down';
}

/** `paused: scaling up ("why") by ops since +12.3s; 2 windows held so far`, or null when the service is not paused. */
export function pauseLine(pause: ObservedPause | null, decisions: Iterable<ObservedDecision>, t0: number): string | null {
  if (pause === null) return null;
  const { record } = pause;
  const held = summarizePause([...decisions], { ...pause, endedAt: null }).heldWindows;
  const until = record.until === null ? '' : ` until ${since(t0, record.until)}`;
  return `paused: ${pausedWhat(record)} (${JSON.stringify(record.reason)})${record.by ? ` by ${record.by}` : ''} since ${since(t0, record.at)}${until}; ` +
    `${held} window${held === 1 ? '' : 's'} held so far`;
}

/** The block redrawn in place on a terminal (or printed every few seconds otherwise, shortened). */
export function statusBlock(v: ViewInput): string[] {
  const o = v.observer;
  const phaseName = v.phase.done
    ? (v.keep ? 'quiet (--keep: until Ctrl-C)' : 'done')
    : `${phaseLabel(v.phase.phase!)} (${v.waitingFor === null ? `${v.phase.leftS.toFixed(0)} s left` : `waiting for ${v.waitingFor}`})`;
  const phaseNo = v.phase.done ? '' : ` ${v.phase.index + 1}/${v.phaseCount}`;
  const up = v.policies.find((p) => p.operator === 'gt');
  const down = v.policies.find((p) => p.operator === 'lt');
  const thresholds = { up: up?.threshold ?? 100, down: down?.threshold ?? 0 };
  const lines = [
    `dynamite demo  ${since(v.t0, v.now)}  phase${phaseNo}: ${phaseName}`,
    `load: ${v.load.offeredRps.toFixed(0)} req/s offered, ${v.load.servedRps} served/s   ` +
      `(total ${v.load.ok} ok, ${v.load.rejected} shed, ${v.load.failed} failed, ${v.load.inFlight} in flight)`,
  ];
  lines.push(`board: ${v.listener.boardUrl}`, `page: ${v.listener.serviceUrl} (all services: ${v.listener.uiUrl})`);
  const paused = pauseLine(o.pause, o.decisions.values(), v.t0);
  if (paused !== null) lines.push(paused);
  const instances = [...o.instances.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  lines.push(`${v.service.name} (min ${v.service.minInstance}, max ${v.service.maxInstance}): ${o.launchedCount()} launched, ${instances.length} recorded`);
  for (const [name, inst] of instances) {
    const uuid = o.uuidOf(name);
    const sample = uuid ? o.latest.get(uuid) : undefined;
    const load = sample && v.now - sample.at < 3000 ? bar(sample.value, thresholds) : '(no recent sample)';
    lines.push(`  ${name.padEnd(26)} ${inst.record.state.padEnd(10)} ${short(uuid).padEnd(8)}  cpu_user ${load}`);
    for (const a of inst.record.attached_services ?? []) lines.push(`    + ${a.name}: ${a.state}`);
  }
  const armed = o.armed(v.now);
  lines.push(armed.length === 0 ? 'armed timers: none' : 'armed timers:');
  for (const a of armed) {
    const name = o.registrations.get(a.machine) ?? 'gone';
    const left = a.expiresAt - v.now;
    lines.push(`  ${policyLabel(a.policy, v.policies).padEnd(10)} on ${short(a.machine)} (${name}): ${a.samples} samples, ` +
      `${left > 0 ? `fires in ${seconds(left)}` : 'closing'}`);
  }
  const cooling = v.policies
    .map((p) => ({ p, c: o.cooldowns.get(p.name) }))
    .filter(({ c }) => c !== undefined && c.until > v.now)
    .map(({ p, c }) => `${policyLabel(p.name, v.policies)} ${seconds(c!.until - v.now)} left`);
  lines.push(`cooldowns: ${cooling.length === 0 ? 'none' : cooling.join(', ')}`);
  return lines;
}

/** One line, for output that is not a terminal. */
export function statusLine(v: ViewInput): string {
  const o = v.observer;
  const phase = v.phase.done ? (v.keep ? 'keep' : 'done') : v.phase.phase?.name ?? '-';
  const pause = o.pause;
  const instances = [...o.instances.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([name, inst]) => {
      const uuid = o.uuidOf(name);
      const s = uuid ? o.latest.get(uuid) : undefined;
      const port = name.replace(/^.*@/, '').replace(/\.service$/, '');
      return `${port} ${inst.record.state}${s && v.now - s.at < 3000 ? ` ${s.value.toFixed(0)}%` : ''}`;
    });
  const armed = o.armed(v.now).map((a) => `${policyLabel(a.policy, v.policies)}@${short(a.machine)} ${seconds(Math.max(0, a.expiresAt - v.now))}`);
  const cooling = v.policies
    .filter((p) => (o.cooldowns.get(p.name)?.until ?? 0) > v.now)
    .map((p) => `${policyLabel(p.name, v.policies)} ${seconds(o.cooldowns.get(p.name)!.until - v.now)}`);
  return `${since(v.t0, v.now).padStart(7)}  ${phase.padEnd(9)} ${v.load.offeredRps.toFixed(0).padStart(3)} req/s (served ${v.load.servedRps}/s)` +
    ` | ${v.service.name}: ${instances.join(', ') || 'none'}` +
    ` | armed: ${armed.join(', ') || '-'} | cooldown: ${cooling.join(', ') || '-'}` +
    (pause === null ? '' : ` | paused: ${pausedWhat(pause.record).replace(/^scaling /, '')}`);
}

/** ISO timestamps in engine messages, as `+12.3s` on the demo's clock. */
function relativeTimes(text: string, t0: number): string {
  return text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, (iso) => {
    const ms = Date.parse(iso);
    return Number.isNaN(ms) ? iso : since(t0, ms);
  });
}

/** A decision record as one line, as it happens. */
export function decisionLine(d: ObservedDecision, t0: number, observer: Observer, policies: ScalingPolicyConfig[]): string {
  const r: DecisionRecord = d.record;
  const when = since(t0, r.at).padStart(7);
  const who = policyLabel(r.policy, policies);
  const on = r.machine ? ` on ${short(r.machine)}${observer.registrations.has(r.machine) ? ` (${observer.registrations.get(r.machine)})` : ''}` : '';
  const value = r.inputs['newestValue'] ?? r.inputs['value'];
  const policy = policies.find((p) => p.name === r.policy);
  const rule = policy ? `${policy.metric} ${policy.operator === 'gt' ? '>' : '<'} ${policy.threshold}` : '';
  switch (r.outcome) {
    case 'armed': {
      const expires = typeof r.inputs['expiresAt'] === 'number' ? ` fires at ${since(t0, r.inputs['expiresAt'])} if it holds` : '';
      return `${when}  armed       ${who}${on}: ${rule} (value ${String(value)});${expires}`;
    }
    case 'disarmed':
      return `${when}  disarmed    ${who}${on}: value ${String(r.inputs['value'] ?? value)} is back on the other side of ${policy?.threshold ?? 'the threshold'}`;
    case 'scaled': {
      const verb = r.direction === 'up' ? 'SCALE UP  ' : 'SCALE DOWN';
      const what = r.action ? `${r.action.kind === 'scale_up' ? 'creating' : 'removing'} ${r.action.instance}` : '';
      return `${when}  ${verb}  ${who}${on}: ${rule} held ${policy ? seconds(policy.periodMs) : ''} (${String(r.inputs['samples'] ?? '?')} samples) -> ${what}`;
    }
    case 'suppressed':
      return `${when}  suppressed  ${who}${on}: ${r.reason ?? ''}: ${relativeTimes(r.message.replace(/^.*?, but /, ''), t0)}`;
    case 'action_done': {
      const decision = observer.decisions.get(String(r.inputs['decisionId']))?.record;
      const armedAt = decision ? decision.inputs['armedAt'] : undefined;
      const timing = decision
        ? ` ${seconds(r.at - decision.at)} after the decision${typeof armedAt === 'number' ? `, ${seconds(r.at - armedAt)} after the breach` : ''}`
        : '';
      const verb = r.direction === 'up' ? 'launched  ' : 'destroyed ';
      return `${when}  ${verb}  ${r.action?.instance ?? ''}${timing}`;
    }
    case 'action_failed':
      return `${when}  FAILED      ${r.message}`;
    default:
      return `${when}  ${r.outcome.padEnd(10)}  ${relativeTimes(r.message, t0)}`;
  }
}

/**
 * Writes event lines and the status block. On a terminal the block stays at the bottom and is redrawn in place
 * (event lines scroll above it); otherwise events are plain lines and a status line comes every few seconds.
 */
export class Screen {
  private drawn = 0;
  private last: string[] | null = null;

  constructor(private readonly out: NodeJS.WritableStream & { columns?: number }, readonly tty: boolean) {}

  /** Prints lines above the block (or plainly). */
  print(lines: string[]): void {
    if (lines.length === 0) return;
    this.clearBlock();
    this.out.write(`${lines.join('\n')}\n`);
    if (this.last) this.draw(this.last);
  }

  /** Redraws the block (terminal only). */
  draw(block: string[]): void {
    if (!this.tty) return;
    this.last = block;
    const width = Math.max(40, (this.out.columns ?? 100) - 1);
    const fitted = block.map((l) => (l.length > width ? `${l.slice(0, width - 1)}~` : l));
    this.clearBlock();
    this.out.write(`${fitted.join('\n')}\n`);
    this.drawn = fitted.length;
  }

  /** Removes the block (before printing the summary). */
  clearBlock(forget = false): void {
    if (forget) this.last = null;
    if (!this.tty || this.drawn === 0) return;
    this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }
}
