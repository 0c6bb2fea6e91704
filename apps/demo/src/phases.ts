/**
 * The demo's traffic, as phases over `--duration` seconds: quiet, ramp up, peak, ramp down, quiet. Pure.
 */

export interface Phase {
  name: 'quiet' | 'ramp up' | 'peak' | 'ramp down';
  /** Seconds from the start of the traffic. */
  startS: number;
  endS: number;
  fromRate: number;
  toRate: number;
}

export interface TrafficShape {
  quietRate: number;
  peakRate: number;
}

/** Shares of the duration: a short quiet start, a ramp, a long peak, a ramp, and a long quiet end for scale down. */
const SHARES: [Phase['name'], number, 'quiet' | 'peak' | 'up' | 'down'][] = [
  ['quiet', 0.1, 'quiet'],
  ['ramp up', 0.15, 'up'],
  ['peak', 0.3, 'peak'],
  ['ramp down', 0.15, 'down'],
  ['quiet', 0.3, 'quiet'],
];

export function buildPhases(durationS: number, shape: TrafficShape): Phase[] {
  const phases: Phase[] = [];
  let t = 0;
  for (const [name, share, kind] of SHARES) {
    const len = durationS * share;
    const from = kind === 'quiet' || kind === 'up' ? shape.quietRate : shape.peakRate;
    const to = kind === 'quiet' || kind === 'down' ? shape.quietRate : shape.peakRate;
    phases.push({ name, startS: t, endS: t + len, fromRate: from, toRate: to });
    t += len;
  }
  return phases;
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
