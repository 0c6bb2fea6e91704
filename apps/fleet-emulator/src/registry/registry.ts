import { EventEmitter } from 'node:events';
import { fleetRequirements, unitHash, unitNameInfo, type FleetRequirements, type UnitOption } from '@dynamite/unit-files';
import type { JobState } from './job-state';
import { MachineSet } from './machines';
import { UnitHistory } from './unit-history';

/** A unit as the registry keeps it: the normalized options (what fleet reads back), hash and requirements. */
export interface RegistryUnit {
  name: string;
  options: UnitOption[];
  hash: string;
  desiredState: JobState;
  requirements: FleetRequirements;
  isTemplate: boolean;
}

export function registryUnit(name: string, normalizedOptions: UnitOption[], desiredState: JobState): RegistryUnit {
  return {
    name,
    options: normalizedOptions,
    hash: unitHash(normalizedOptions),
    desiredState,
    requirements: fleetRequirements(name, normalizedOptions),
    isTemplate: unitNameInfo(name).isTemplate,
  };
}

/**
 * The emulator's stand-in for fleet's etcd registry: units with their desired state, the schedule of fleet's
 * engine (unit -> machine), and the agents' heartbeats (unit -> machine that runs it as launched). Emits `change`
 * whenever something fleet's engine, the agents or persistence care about changed.
 */
export class Registry extends EventEmitter {
  readonly units = new Map<string, RegistryUnit>();
  readonly schedule = new Map<string, string>();
  readonly heartbeats = new Map<string, Set<string>>();
  /** Every unit created, replaced or destroyed through the API, in order (`GET /emulator/history`). */
  readonly history = new UnitHistory();

  constructor(readonly machines: MachineSet) {
    super();
  }

  /** Names in byte order, kept between changes of the set of names: every reconcile pass reads them. */
  private sortedNames: string[] | null = null;

  /** Units sorted by name (byte order, as fleet lists them). */
  sortedUnits(): RegistryUnit[] {
    // `units` may also be filled directly (a state dir at start): a count that differs means names changed.
    if (this.sortedNames === null || this.sortedNames.length !== this.units.size) {
      this.sortedNames = [...this.units.keys()].sort(compareBytes);
    }
    return this.sortedNames.map((name) => this.units.get(name)!);
  }

  /** Creates or replaces a unit. A replaced unit keeps its machine, like fleet's separate target key. */
  put(unit: RegistryUnit): void {
    const before = this.units.get(unit.name);
    this.units.set(unit.name, unit);
    if (!before) this.sortedNames = null;
    if (!before) this.history.add(unit.name, 'created');
    else if (before.hash !== unit.hash) this.history.add(unit.name, 'replaced');
    if (unit.desiredState === 'inactive') this.schedule.delete(unit.name);
    this.changed();
  }

  setDesiredState(name: string, state: JobState): void {
    const unit = this.units.get(name);
    if (!unit) return;
    unit.desiredState = state;
    // fleet's engine unschedules an inactive unit at once (currentState "inactive" right away).
    if (state === 'inactive') this.schedule.delete(name);
    this.changed();
  }

  destroy(name: string): void {
    if (this.units.delete(name)) {
      this.sortedNames = null;
      this.history.add(name, 'destroyed');
    }
    this.schedule.delete(name);
    this.changed();
  }

  changed(): void {
    this.emit('change');
  }
}

/**
 * Go's string comparison: byte order of the UTF-8 encoding. That is code point order, which UTF-16 code units
 * share as long as neither differing unit is a surrogate or above (>= 0xD800): only then are the strings encoded.
 */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length < b.length ? -1 : 1;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
