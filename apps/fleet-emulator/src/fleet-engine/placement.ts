import { goPathMatch } from '@dynamite/unit-files';
import type { RegistryUnit } from '../registry/registry';

/**
 * What one machine holds in the view of fleet's engine (fleet's AgentState): the scheduled non-global units whose
 * desired state is not inactive, plus the global units placed there.
 */
export interface MachineView {
  id: string;
  metadata: Record<string, string>;
  units: Map<string, RegistryUnit>;
  /**
   * The units in `units` with Conflicts= / Replaces= globs, in the same order: most units have neither, and
   * checking a unit against a machine scans only these instead of every unit there (O(n) per unit was O(n^2) per pass).
   */
  conflicting: Map<string, RegistryUnit>;
  replacing: Map<string, RegistryUnit>;
}

export function emptyView(id: string, metadata: Record<string, string>): MachineView {
  return { id, metadata, units: new Map(), conflicting: new Map(), replacing: new Map() };
}

/** Adds a unit to a view, keeping its indexes. */
export function addToView(view: MachineView, unit: RegistryUnit): void {
  view.units.set(unit.name, unit);
  if (unit.requirements.conflicts.length > 0) view.conflicting.set(unit.name, unit);
  if (unit.requirements.replaces.length > 0) view.replacing.set(unit.name, unit);
}

export function removeFromView(view: MachineView, name: string): void {
  view.units.delete(name);
  view.conflicting.delete(name);
  view.replacing.delete(name);
}

/** fleet's MachineState.MatchID: the full id or its 8-character short form. */
export function machineIdMatches(machineId: string, required: string): boolean {
  return machineId === required || machineId.slice(0, 8) === required;
}

/** fleet's HasMetadata: every required key present, with one of the allowed values. */
export function metadataMatches(metadata: Record<string, string>, required: Record<string, string[]>): boolean {
  for (const [key, allowed] of Object.entries(required)) {
    if (!(key in metadata)) return false;
    if (!allowed.includes(metadata[key])) return false;
  }
  return true;
}

/** The conflicting unit already on the machine, if any. Symmetric; a unit never conflicts with itself. */
export function conflictOn(view: MachineView, unit: RegistryUnit): string | null {
  // Without globs of its own, only units with globs can conflict with it.
  const others = unit.requirements.conflicts.length > 0 ? view.units : view.conflicting;
  for (const other of others.values()) {
    if (other.name === unit.name) continue;
    if (unit.requirements.conflicts.some((pattern) => goPathMatch(pattern, other.name))) return other.name;
    if (other.requirements.conflicts.some((pattern) => goPathMatch(pattern, unit.name))) return other.name;
  }
  return null;
}

/** The units on the machine that `unit` replaces (its `Replaces=` globs). */
export function replacedOn(view: MachineView, unit: RegistryUnit): string[] {
  const replaced: string[] = [];
  if (unit.requirements.replaces.length === 0) return replaced;
  for (const other of view.units.values()) {
    if (other.name === unit.name || other.requirements.global) continue;
    if (unit.requirements.replaces.some((pattern) => goPathMatch(pattern, other.name))) replaced.push(other.name);
  }
  return replaced;
}

/**
 * fleet's AbleToRun: MachineID, MachineMetadata, MachineOf peers, Conflicts, and (for the emulator) not
 * being replaced by a unit already there. Returns null when the unit can run, else the reason.
 */
export function unableToRun(view: MachineView, unit: RegistryUnit): string | null {
  const req = unit.requirements;
  if (req.machineId !== null && !machineIdMatches(view.id, req.machineId)) return `agent ID "${view.id}" does not match required "${req.machineId}"`;
  if (Object.keys(req.metadata).length > 0 && !metadataMatches(view.metadata, req.metadata)) return 'local Machine metadata insufficient';
  for (const peer of req.peers) {
    if (!view.units.has(peer)) return `required peer Unit(${peer}) is not scheduled locally`;
  }
  const conflict = conflictOn(view, unit);
  if (conflict !== null) return `found conflict with locally-scheduled Unit(${conflict})`;
  for (const other of view.replacing.values()) {
    if (other.name !== unit.name && other.requirements.replaces.some((pattern) => goPathMatch(pattern, unit.name))) {
      return `Unit(${other.name}) replaces this unit on this machine`;
    }
  }
  return null;
}
