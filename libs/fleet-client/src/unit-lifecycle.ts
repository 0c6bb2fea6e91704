/**
 * Idempotent unit operations for the engine: each one looks first and only changes what differs, so a job
 * that is retried, or runs twice, converges to the same fleet state. Options are normalized before comparing
 * and sending: fleet hashes the request options as sent, so unnormalized ones would always replace (Q15).
 */
import { normalizeUnitOptions, unitHash, unitNameInfo, type UnitOption } from '@dynamite/unit-files';
import { FleetApiError, FleetArgumentError } from './errors';
import type { FleetClient } from './fleet-client';
import type { DestroyResult, FleetUnit } from './types';
import { pollUntil, waitForState, type WaitOptions } from './wait';

type FleetApi = Pick<FleetClient, 'getUnit' | 'getUnitState' | 'putUnit' | 'setDesiredState' | 'destroyUnit'>;

export type SubmitAction = 'created' | 'replaced' | 'unchanged';
export type LaunchAction = 'started' | 'already';
export type EnsureLaunchedAction = 'created' | 'replaced' | 'started' | 'already';

export interface EnsureLaunchedResult {
  action: EnsureLaunchedAction;
  /** The unit as last seen, launched. */
  unit: FleetUnit;
}

/**
 * The submit step (spec §8 `submit`, original §4.9 step 1-2): create the unit inactive if absent, replace it if
 * its options differ (fleet then resets it to inactive), otherwise leave it alone.
 */
export async function ensureSubmitted(api: FleetApi, name: string, options: UnitOption[]): Promise<SubmitAction> {
  const wanted = normalizeUnitOptions(options);
  const existing = await api.getUnit(name);
  if (existing !== null && sameOptions(existing, wanted)) return 'unchanged';
  try {
    await api.putUnit(name, { options: wanted });
  } catch (err) {
    // Someone created the identical unit between our GET and PUT.
    if (existing === null && isIdenticalUnitConflict(err)) return 'unchanged';
    throw err;
  }
  return existing === null ? 'created' : 'replaced';
}

/**
 * The submit step without a look first: `PUT {options}` creates the unit inactive (201) or replaces it when its
 * options differ (201, reset to inactive); fleet's 409 for an identical unit means it is already there.
 */
export async function submit(api: FleetApi, name: string, options: UnitOption[]): Promise<SubmitAction> {
  try {
    await api.putUnit(name, { options: normalizeUnitOptions(options) });
    return 'created';
  } catch (err) {
    if (isIdenticalUnitConflict(err)) return 'unchanged';
    throw err;
  }
}

/**
 * Submit and start in one call (spec §3.4): `PUT {desiredState: launched, options}` creates the unit (201),
 * replaces it when its options differ (201), or only sets it launched when the identical unit exists (204); a
 * running identical unit stays running. No look first: one request, whatever the state. Does not wait.
 */
export async function submitAndLaunch(api: FleetApi, name: string, options: UnitOption[]): Promise<'created' | 'unchanged'> {
  refuseTemplate(name);
  const result = await api.putUnit(name, { desiredState: 'launched', options: normalizeUnitOptions(options) });
  return result.status === 'created' ? 'created' : 'unchanged';
}

/** Sets desiredState launched unless it already is; does not wait. */
export async function launch(api: FleetApi, name: string): Promise<LaunchAction> {
  refuseTemplate(name);
  const unit = await api.getUnit(name);
  if (unit !== null && unit.desiredState === 'launched') return 'already';
  await api.setDesiredState(name, 'launched');
  return 'started';
}

/**
 * Makes the unit exist with these options and run: created, replaced (different hash) or started (same hash,
 * not desired launched) in one PUT, then waits until it is launched (spec §3.4, "submit and start in one call").
 */
export async function ensureLaunched(api: FleetApi, name: string, options: UnitOption[], wait: WaitOptions = {}): Promise<EnsureLaunchedResult> {
  refuseTemplate(name);
  const wanted = normalizeUnitOptions(options);
  const existing = await api.getUnit(name);
  let action: EnsureLaunchedAction;
  if (existing === null || !sameOptions(existing, wanted)) {
    await api.putUnit(name, { desiredState: 'launched', options: wanted });
    action = existing === null ? 'created' : 'replaced';
  } else if (existing.desiredState !== 'launched') {
    await api.setDesiredState(name, 'launched');
    action = 'started';
  } else {
    action = 'already';
  }
  const unit = await waitForState(api, name, 'launched', wait);
  return { action, unit };
}

/** DELETE (404 counts as done), then wait until GET answers 404. */
export async function ensureDestroyed(api: FleetApi, name: string, wait: WaitOptions = {}): Promise<DestroyResult> {
  const result = await api.destroyUnit(name);
  await pollUntil(async () => {
    const unit = await api.getUnit(name);
    return unit === null ? { done: true, value: undefined } : { done: false, lastSeen: `still listed, desiredState "${unit.desiredState}"` };
  }, { units: [name], expected: 'deletion' }, wait);
  return result;
}

function sameOptions(unit: FleetUnit, wanted: UnitOption[]): boolean {
  return unitHash(unit.options) === unitHash(wanted);
}

/** fleet's 409 for a PUT without desiredState on a unit that exists with identical options. */
export function isIdenticalUnitConflict(err: unknown): boolean {
  return err instanceof FleetApiError && err.status === 409 && err.fleetMessage === 'must provide DesiredState to update existing unit';
}

/** fleet never runs templates; launching one is a caller bug (fleet would answer 400 or, on create, accept it). */
function refuseTemplate(name: string): void {
  if (unitNameInfo(name).isTemplate) {
    throw new FleetArgumentError(`cannot launch template ${JSON.stringify(name)}; launch an instance such as ${JSON.stringify(name.replace('@.', '@1.'))}`);
  }
}
