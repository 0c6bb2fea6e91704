/**
 * Bounded polling until units converge, with fleetctl's semantics (spec §8, case 45): non-global units are
 * judged by `currentState`, global units by `desiredState` (they have no cluster-level current state).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fleetRequirements, unitHash } from '@dynamite/unit-files';
import { FleetTimeoutError } from './errors';
import type { FleetClient } from './fleet-client';
import type { FleetUnit, JobState } from './types';

export interface WaitOptions {
  /** Give up after this long (default 30 s, about the original's 7 polls at 1 s x1.5). */
  waitMs?: number;
  /** Pause between polls (default 250 ms, as fleetctl). */
  pollMs?: number;
  /**
   * The first pause, doubled at each poll up to `pollMs` (default: `pollMs`). A short one finds a unit that
   * converges quickly without polling a slow one more often.
   */
  firstPollMs?: number;
}

export interface WaitForStateOptions extends WaitOptions {
  /** Also wait until `/state` shows systemd `loaded`/`active`, like `fleetctl start` does. */
  active?: boolean;
}

export const DEFAULT_WAIT_MS = 30_000;
export const DEFAULT_POLL_MS = 250;

type UnitReader = Pick<FleetClient, 'getUnit' | 'getUnitState'>;

export type PollResult<T> = { done: true; value: T } | { done: false; lastSeen: string };

/** Calls `check` every pollMs until it is done; after waitMs throws FleetTimeoutError with the last observation. */
export async function pollUntil<T>(
  check: () => Promise<PollResult<T>>,
  describe: { units: string[]; expected: string },
  options: WaitOptions = {},
): Promise<T> {
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  let pause = Math.min(pollMs, options.firstPollMs ?? pollMs);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const result = await check();
    if (result.done) return result.value;
    const left = deadline - Date.now();
    if (left <= 0) throw new FleetTimeoutError({ ...describe, waitedMs: waitMs, lastSeen: result.lastSeen });
    await sleep(Math.min(pause, left));
    pause = Math.min(pollMs, pause * 2);
  }
}

/**
 * One look at a unit: has it reached `target`? For loaded/launched non-global units the `/state` hash must
 * also match the unit's options when an entry exists, so a replaced unit is not taken for launched while
 * systemd still runs the old file.
 */
export async function observeUnit(api: UnitReader, name: string, target: JobState, active = false): Promise<PollResult<FleetUnit>> {
  const unit = await api.getUnit(name);
  if (unit === null) return { done: false, lastSeen: 'unit does not exist' };
  const global = fleetRequirements(name, unit.options).global;
  const state = global ? unit.desiredState : unit.currentState;
  if (state !== target) {
    const seen = global
      ? `global unit, desiredState ${quote(unit.desiredState)}`
      : `currentState ${quote(unit.currentState)}, desiredState ${quote(unit.desiredState)}${unit.machineID === '' ? ', not scheduled' : ''}`;
    return { done: false, lastSeen: seen };
  }
  if (target === 'inactive' || (global && !active)) return { done: true, value: unit };

  const systemd = await api.getUnitState(name);
  if (!global && systemd !== null) {
    const expected = unitHash(unit.options);
    if (systemd.hash !== expected) {
      return { done: false, lastSeen: `systemd has unit file ${systemd.hash.slice(0, 7)}, fleet has ${expected.slice(0, 7)}` };
    }
  }
  if (active && (systemd === null || systemd.systemdLoadState !== 'loaded' || systemd.systemdActiveState !== 'active')) {
    const seen = systemd === null ? 'no /state entry' : `systemd ${systemd.systemdLoadState}/${systemd.systemdActiveState}/${systemd.systemdSubState}`;
    return { done: false, lastSeen: `${target}, ${seen}` };
  }
  return { done: true, value: unit };
}

/** Waits until the unit reaches `state` (and systemd `active` with `{ active: true }`); returns the unit. */
export async function waitForState(api: UnitReader, name: string, state: JobState, options: WaitForStateOptions = {}): Promise<FleetUnit> {
  const [unit] = await waitForAll(api, [name], state, options);
  return unit;
}

/** Waits until every unit is launched, under one deadline; returns them in the order given. */
export async function waitUntilLaunched(api: UnitReader, names: string[], options: WaitOptions = {}): Promise<FleetUnit[]> {
  return waitForAll(api, names, 'launched', options);
}

async function waitForAll(api: UnitReader, names: string[], target: JobState, options: WaitForStateOptions): Promise<FleetUnit[]> {
  const reached = new Map<string, FleetUnit>();
  const expected = `state ${quote(target)}${options.active ? ' with systemd active' : ''}`;
  return pollUntil(async () => {
    const waiting: string[] = [];
    for (const name of names) {
      if (reached.has(name)) continue;
      const result = await observeUnit(api, name, target, options.active);
      if (result.done) reached.set(name, result.value);
      else waiting.push(`${name}: ${result.lastSeen}`);
    }
    if (waiting.length > 0) return { done: false, lastSeen: waiting.join('; ') };
    return { done: true, value: names.map((name) => reached.get(name)!) };
  }, { units: names, expected }, options);
}

function quote(state: string): string {
  return state === '' ? '(none)' : `"${state}"`;
}
