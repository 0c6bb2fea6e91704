import type { UnitOption } from '@dynamite/unit-files';

/** fleet's three cluster-level unit states (spec §5.1). */
export type JobState = 'inactive' | 'loaded' | 'launched';
export const JOB_STATES: readonly JobState[] = ['inactive', 'loaded', 'launched'];

export function isJobState(value: unknown): value is JobState {
  return typeof value === 'string' && (JOB_STATES as readonly string[]).includes(value);
}

/**
 * A unit as fleet reports it, with fleet's omitted fields filled in: "" for strings, [] for options.
 * `currentState` is "" for global units on GET; `machineID` is "" when the unit is not scheduled.
 */
export interface FleetUnit {
  name: string;
  options: UnitOption[];
  desiredState: JobState | '';
  currentState: JobState | '';
  machineID: string;
}

/** One (unit, machine) entry of `/state`: what systemd on that machine reports, verbatim. */
export interface FleetUnitState {
  name: string;
  hash: string;
  machineID: string;
  systemdLoadState: string;
  systemdActiveState: string;
  systemdSubState: string;
}

export interface FleetMachine {
  id: string;
  primaryIP: string;
  metadata: Record<string, string>;
}

/** One operation of `PATCH /machines`; `value` is fleet's nested `{ value }` form (spec §3.9). */
export interface MachineMetadataOp {
  op: 'add' | 'remove' | 'replace';
  /** `/<machineID>/metadata/<key>` */
  path: string;
  value?: { value: string };
}

/** What a PUT may carry: new options (create or replace), a desired state, or both. */
export interface PutUnitBody {
  desiredState?: JobState;
  options?: UnitOption[];
}

/** 201 = "created or replaced", 204 = "desired state updated" (fleet cannot tell created from raced, #907). */
export interface PutUnitResult {
  status: 'created' | 'updated';
}

export type DestroyResult = 'destroyed' | 'absent';

export interface UnitStateFilter {
  machineID?: string;
  unitName?: string;
}

/** The discovery document with `$ENDPOINT` already replaced by this client's endpoint. */
export interface FleetDiscoveryDocument {
  id: string;
  rootUrl: string;
  baseUrl: string;
  [key: string]: unknown;
}
