import type { ServiceConfig } from '../config/types';
import { formatDuration, parseDuration } from './durations';

/**
 * What operators set that changes a service's decisions, beside its config: the engine-wide dry run, a pause of
 * its scaling and the instances protected from scale-in. The engine reads them in the same etcd read as the
 * service's records, and guards its commit with them, so every worker honours a change at once.
 */

export type ScaleDirection = 'up' | 'down';

/** An operator's pause of a service's scaling (`dynamite pause`). */
export interface ServicePause {
  /** Which way scaling is paused: one direction or both. */
  directions: ScaleDirection[];
  /** Why, as the operator wrote it (one line). */
  reason: string;
  /** Wall ms from which the pause no longer applies (exclusive end), or null: until resumed. */
  until: number | null;
  /** When it was set. */
  at: number;
  /** Who set it (HTTP user, or user@host of the CLI), when known. */
  by: string | null;
}

/** An instance an operator protected from scale-in (`dynamite protect`). */
export interface InstanceProtection {
  reason: string | null;
  at: number;
  by: string | null;
}

export interface ServiceControls {
  /** `--dry_run` on the leading scheduler: every service decides, none acts. */
  engineDryRun: boolean;
  pause: ServicePause | null;
  /** Names of the service's protected instances. */
  protectedInstances: ReadonlySet<string>;
}

export const NO_CONTROLS: ServiceControls = Object.freeze({ engineDryRun: false, pause: null, protectedInstances: new Set<string>() });

/** Whether `pause` holds scaling `direction` at `at` (its end is exclusive, as a cooldown's). */
export function pauseApplies(pause: ServicePause | null, direction: ScaleDirection, at: number): boolean {
  return pause !== null && pause.directions.includes(direction) && (pause.until === null || at < pause.until);
}

/** Whether a pause has ended by `at` (it stays recorded until resumed, but holds nothing). */
export function pauseExpired(pause: ServicePause, at: number): boolean {
  return pause.until !== null && at >= pause.until;
}

/** Whether the service's decisions are evaluated and recorded only: the engine-wide switch or its own `dry_run`. */
export function isDryRun(service: ServiceConfig, controls: ServiceControls): boolean {
  return controls.engineDryRun || service.dryRun;
}

/** `scaling up and down`, `scaling up`, `scaling down`. */
export function pausedWhat(pause: ServicePause): string {
  const both = pause.directions.includes('up') && pause.directions.includes('down');
  return `scaling ${both ? 'up and down' : pause.directions[0]}`;
}

/** One line: `paused (scaling up) by alice until 2025-01-01T10:00:00.000Z: "deploying"`. */
export function describePause(pause: ServicePause): string {
  const by = pause.by === null ? '' : ` by ${pause.by}`;
  const until = pause.until === null ? ' until resumed' : ` until ${new Date(pause.until).toISOString()}`;
  return `paused (${pausedWhat(pause)})${by}${until}: ${JSON.stringify(pause.reason)}`;
}

export const PAUSE_REASON_MAX = 500;
/** The longest pause with an end: a year (longer is a pause without end). */
export const PAUSE_FOR_MAX_MS = 366 * 86_400_000;

/** A reason an operator gives: one line of printable text, at most PAUSE_REASON_MAX characters. */
export function reasonProblem(reason: string): string | null {
  if (reason.trim() === '') return 'must not be empty';
  if (reason.length > PAUSE_REASON_MAX) return `must be at most ${PAUSE_REASON_MAX} characters (got ${reason.length})`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(reason)) return 'must be one line of printable text';
  return null;
}

/**
 * An operator's pause request, checked: `direction` is `up`, `down` or `both` (default both), `reason` is required,
 * `forText` (`30m`, `2h`, `1d`) ends it, none means until resumed. The error names the field.
 */
export function buildPause(input: { direction?: string | null; reason?: string | null; forText?: string | null; now: number; by: string | null }): { pause: ServicePause } | { error: string } {
  const direction = input.direction ?? 'both';
  if (direction !== 'up' && direction !== 'down' && direction !== 'both') {
    return { error: `direction: must be up, down or both (got ${JSON.stringify(direction)})` };
  }
  if (input.reason === undefined || input.reason === null) return { error: 'reason: is required (why scaling is paused, shown in every record it suppresses)' };
  const problem = reasonProblem(input.reason);
  if (problem !== null) return { error: `reason: ${problem}` };
  let until: number | null = null;
  if (input.forText !== undefined && input.forText !== null) {
    const ms = parseDuration(input.forText);
    if (ms === null || ms <= 0) return { error: `for: must be a duration such as 30m, 2h, 1h30m or 1d (got ${JSON.stringify(input.forText)})` };
    if (ms > PAUSE_FOR_MAX_MS) return { error: `for: must be at most ${formatDuration(PAUSE_FOR_MAX_MS)} (366 days); leave it out to pause until resumed` };
    until = input.now + ms;
  }
  return {
    pause: {
      directions: direction === 'both' ? ['up', 'down'] : [direction],
      reason: input.reason.trim(),
      until,
      at: input.now,
      by: input.by,
    },
  };
}
