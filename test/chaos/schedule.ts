import { prng } from '../domain/factory';

/**
 * The fault schedule of a chaos run: a pure function of (seed, seconds), so a seed printed by one run replays the
 * same faults at the same offsets. Targets that depend on the moment (which scheduler leads, which etcd member is the
 * raft leader) are named by role and resolved when the fault is injected.
 */

export const FAULT_KINDS = [
  'kill-scheduler', // SIGKILL, started again after the fault's duration
  'kill-worker',
  'stop-scheduler', // SIGSTOP, SIGCONT after the duration
  'stop-worker',
  'redis-restart', // SIGKILL redis-server, started again (empty) after the duration
  'redis-flushall',
  'etcd-restart', // every member SIGKILLed, all started again after the duration
  'etcd-member-loss', // one member SIGKILLed for the duration
  'fleet-latency', // emulator: latency on every fleet request
  'fleet-errors', // emulator: injected 500s
  'fleet-drops', // emulator: connections closed without an answer
  'fleet-not-ready', // emulator: 503 on every fleet path
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  /** 1, 2, 3 ... in start order. */
  id: number;
  /** Offset from the start of the faults, ms. */
  atMs: number;
  kind: FaultKind;
  /** `leader` / `standby` (schedulers), `worker-1..3`, `member-0..2` / `raft-leader` (etcd), or '' when none. */
  target: string;
  /** How long the fault lasts before it is undone (0: instantaneous). */
  durationMs: number;
  /** latencyMs, errorRate or dropRate, and the emulator's dice seed, for the fleet faults. */
  params: Record<string, number>;
}

export const WORKER_SLOTS = 3;
const FIRST_FAULT_MS = 3_000;
/** Time left between the end of one fault and the next in the same domain (things reconnect). */
export const DOMAIN_GAP_MS = 500;

/** Faults that must not overlap: one scheduler fault at a time, one per worker, one Redis, one etcd, one emulator. */
export function domainOf(kind: FaultKind, target: string): string {
  if (kind.endsWith('-scheduler')) return 'scheduler';
  if (kind.endsWith('-worker')) return target;
  return kind.split('-')[0]!;
}

export function faultSchedule(seed: number, seconds: number): Fault[] {
  const rand = prng(seed);
  const between = (lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const endMs = seconds * 1000;

  // Every kind once first, in a seeded order, spread over the first two thirds of the run; then kinds at random.
  const firstPass = [...FAULT_KINDS];
  for (let i = firstPass.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rand() * (i + 1));
    [firstPass[i], firstPass[j]] = [firstPass[j]!, firstPass[i]!];
  }
  const firstGapMs = Math.min(4_000, ((endMs * 2) / 3 - FIRST_FAULT_MS) / FAULT_KINDS.length);

  const busyUntil = new Map<string, number>();
  const faults: Fault[] = [];
  let t = FIRST_FAULT_MS;
  for (let n = 0; ; n += 1) {
    const first = n < firstPass.length;
    const kind = first ? firstPass[n]! : pick(FAULT_KINDS);
    // In the first pass durations are shorter, so that every kind fits a one-minute run.
    const long = first ? 0.5 : 1;
    let target = '';
    let durationMs = 0;
    const params: Record<string, number> = {};
    switch (kind) {
      case 'kill-scheduler':
      case 'stop-scheduler':
        target = rand() < 0.7 ? 'leader' : 'standby';
        durationMs = between(300, 6_000 * long);
        break;
      case 'kill-worker':
      case 'stop-worker': {
        // The worker slot free soonest, ties by dice.
        const slots = Array.from({ length: WORKER_SLOTS }, (_, i) => `worker-${i + 1}`);
        const soonest = Math.min(...slots.map((s) => busyUntil.get(s) ?? 0));
        target = pick(slots.filter((s) => (busyUntil.get(s) ?? 0) <= Math.max(t, soonest)));
        // A worker stopped for up to 12 s: its jobs are taken over after 3 s (its lock), and when it goes on, what it
        // was doing (a fleet call, a commit) lands after the instance may have been launched and removed again.
        durationMs = between(300, (kind === 'stop-worker' ? 12_000 : 6_000) * long);
        break;
      }
      case 'redis-restart':
        durationMs = between(300, 3_000 * long);
        break;
      case 'redis-flushall':
        break;
      case 'etcd-restart':
        durationMs = between(500, 2_500 * long);
        break;
      case 'etcd-member-loss':
        target = rand() < 0.5 ? 'raft-leader' : `member-${between(0, 2)}`;
        durationMs = between(2_000, 10_000 * long);
        break;
      case 'fleet-latency':
        params.latencyMs = between(200, 1_500);
        durationMs = between(1_500, 6_000 * long);
        break;
      case 'fleet-errors':
        params.errorRate = Math.round(between(20, 80)) / 100;
        durationMs = between(1_500, 6_000 * long);
        break;
      case 'fleet-drops':
        params.dropRate = Math.round(between(20, 60)) / 100;
        durationMs = between(1_500, 6_000 * long);
        break;
      case 'fleet-not-ready':
        durationMs = between(1_000, 5_000 * long);
        break;
    }
    if (kind.startsWith('fleet-') && kind !== 'fleet-not-ready') params.seed = between(1, 1_000_000);
    const domain = domainOf(kind, target);
    const atMs = Math.max(t, busyUntil.get(domain) ?? 0);
    // Every fault is over by the end of the run: the run then settles.
    if (atMs + durationMs > endMs) {
      if (first) continue;
      break;
    }
    busyUntil.set(domain, atMs + durationMs + DOMAIN_GAP_MS);
    faults.push({ id: faults.length + 1, atMs, kind, target, durationMs, params });
    t = atMs + (first ? between(firstGapMs * 0.6, firstGapMs) : between(1_500, 4_500));
  }
  return faults;
}

/** One line per fault, as the run prints it: `+12.3 s  kill-scheduler  leader  for 2.1 s`. */
export function describeFault(f: Fault): string {
  const extra = Object.entries(f.params).filter(([k]) => k !== 'seed').map(([k, v]) => ` ${k}=${v}`).join('');
  const lasting = f.durationMs > 0 ? `  for ${(f.durationMs / 1000).toFixed(1)} s` : '';
  return `+${(f.atMs / 1000).toFixed(1).padStart(6)} s  #${String(f.id).padEnd(3)} ${f.kind.padEnd(17)} ${f.target.padEnd(11)}${lasting}${extra}`;
}
