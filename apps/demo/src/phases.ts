/**
 * The demo's traffic, as phases over `--duration` seconds: quiet, ramp up and peak with scaling up paused, peak
 * (resumed), ramp down, quiet. Pure (the clock only adds up the time it was told).
 */

export interface Phase {
  name: 'quiet' | 'ramp up' | 'peak' | 'ramp down';
  /** Seconds from the start of the traffic. */
  startS: number;
  endS: number;
  fromRate: number;
  toRate: number;
  /** Scaling up of the service is paused by the demo's operator during this phase. */
  upPaused: boolean;
}

export interface TrafficShape {
  quietRate: number;
  peakRate: number;
}

/**
 * Shares of the duration: a short quiet start (the operator pauses scaling up), a ramp and a short peak under the
 * pause (windows fire and are recorded `suppressed: paused`), the peak resumed (the engine scales up), a ramp down
 * and a long quiet end for the scale downs.
 */
const SHARES: [Phase['name'], number, 'quiet' | 'peak' | 'up' | 'down', boolean][] = [
  ['quiet', 0.08, 'quiet', false],
  ['ramp up', 0.12, 'up', true],
  ['peak', 0.08, 'peak', true],
  ['peak', 0.24, 'peak', false],
  ['ramp down', 0.12, 'down', false],
  ['quiet', 0.36, 'quiet', false],
];

export function buildPhases(durationS: number, shape: TrafficShape): Phase[] {
  const phases: Phase[] = [];
  let t = 0;
  for (const [name, share, kind, upPaused] of SHARES) {
    const len = durationS * share;
    const from = kind === 'quiet' || kind === 'up' ? shape.quietRate : shape.peakRate;
    const to = kind === 'quiet' || kind === 'down' ? shape.quietRate : shape.peakRate;
    phases.push({ name, startS: t, endS: t + len, fromRate: from, toRate: to, upPaused });
    t += len;
  }
  return phases;
}

/**
 * What must have happened before phase `index` may end:
 *   - `paused`: the next phase is paused, this one is not: the pause is in place before the load rises;
 *   - `resumed`: this phase is paused, the next is not: a window was recorded `suppressed: paused`, then the
 *     operator resumed.
 */
export type PhaseGate = 'paused' | 'resumed';

export function gateOf(phases: Phase[], index: number): PhaseGate | null {
  const here = phases[index];
  if (!here) return null;
  const nextPaused = phases[index + 1]?.upPaused ?? false;
  if (nextPaused && !here.upPaused) return 'paused';
  if (here.upPaused && !nextPaused) return 'resumed';
  return null;
}

/** The phase time a clock stops at, just before the end of a phase whose gate is closed. */
const STOP_BEFORE_END_S = 1e-6;

/**
 * The traffic's clock: seconds of traffic, less the time it waited at the end of a phase whose gate was still
 * closed (meanwhile the rate stays that of the phase's end). So the phases follow events (the pause in place, a
 * paused window recorded), not fixed sleeps, however slow the machine is.
 */
export class PhaseClock {
  private heldS = 0;
  /** The phase whose end the clock waits at (as of the last `at`), or null. */
  waitingAt: number | null = null;

  constructor(private readonly phases: Phase[], private readonly gateOpen: (gate: PhaseGate, index: number) => boolean) {}

  /** Phase time at `realS` seconds of traffic (never decreasing while `realS` does not). */
  at(realS: number): number {
    let t = realS - this.heldS;
    this.waitingAt = null;
    for (let i = 0; i < this.phases.length; i += 1) {
      const p = this.phases[i]!;
      if (t < p.endS) break;
      const gate = gateOf(this.phases, i);
      if (gate !== null && !this.gateOpen(gate, i)) {
        t = p.endS - STOP_BEFORE_END_S;
        this.heldS = realS - t;
        this.waitingAt = i;
        break;
      }
    }
    return t;
  }
}

export interface PhaseAt {
  phase: Phase | null;
  index: number;
  /** Requests per second wanted at this moment. */
  rate: number;
  /** Seconds left in the phase (0 after the end). */
  leftS: number;
  done: boolean;
}

/** The phase and rate at `tS` seconds; after the last phase: done, at the quiet rate of the last one. */
export function phaseAt(phases: Phase[], tS: number): PhaseAt {
  for (let i = 0; i < phases.length; i += 1) {
    const p = phases[i]!;
    if (tS < p.endS) {
      const f = p.endS > p.startS ? Math.max(0, (tS - p.startS) / (p.endS - p.startS)) : 1;
      return { phase: p, index: i, rate: p.fromRate + (p.toRate - p.fromRate) * f, leftS: p.endS - tS, done: false };
    }
  }
  const last = phases[phases.length - 1] ?? null;
  return { phase: last, index: phases.length - 1, rate: last ? last.toRate : 0, leftS: 0, done: true };
}

/** `ramp up, scaling up paused`: a phase as the live view names it. */
export function phaseLabel(p: Phase): string {
  return p.upPaused ? `${p.name}, scaling up paused` : p.name;
}
