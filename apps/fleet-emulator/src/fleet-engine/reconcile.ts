import type { MachineSet } from '../registry/machines';
import type { Registry, RegistryUnit } from '../registry/registry';
import { addToView, conflictOn, emptyView, metadataMatches, removeFromView, replacedOn, unableToRun, type MachineView } from './placement';

/**
 * Builds every machine's view from the registry: scheduled non-global units first, then global units (in
 * name order) on each machine whose metadata matches and which holds nothing conflicting. Templates never
 * run (spec Q6).
 */
export function machineViews(registry: Registry, machines: MachineSet): Map<string, MachineView> {
  const views = new Map<string, MachineView>();
  for (const machine of machines.all()) views.set(machine.id, emptyView(machine.id, machines.metadata(machine.id)));
  for (const [name, machineId] of registry.schedule) {
    const unit = registry.units.get(name);
    const view = views.get(machineId);
    if (unit && view && unit.desiredState !== 'inactive') addToView(view, unit);
  }
  const globals = registry.sortedUnits().filter((u) => u.requirements.global && !u.isTemplate && u.desiredState !== 'inactive');
  for (const view of views.values()) {
    for (const unit of globals) {
      if (!metadataMatches(view.metadata, unit.requirements.metadata)) continue;
      if (conflictOn(view, unit) !== null) continue;
      addToView(view, unit);
    }
  }
  return views;
}

/** Least loaded first: fewest units, then lowest machine id (fleet's sortableAgentStates). */
function byLoad(views: Iterable<MachineView>): MachineView[] {
  return [...views].sort((a, b) => a.units.size - b.units.size || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * One pass of fleet's engine (spec §5.2), deterministic: unschedule what can no longer run where it is, then schedule
 * unscheduled units wanting to be loaded or launched, in unit-name order, each to the least-loaded machine
 * able to run it. Decisions count toward later decisions. Returns true if the schedule changed.
 */
export function reconcileSchedule(registry: Registry, machines: MachineSet): boolean {
  const views = machineViews(registry, machines);
  let changed = false;
  const unschedule = (name: string) => {
    const machineId = registry.schedule.get(name);
    registry.schedule.delete(name);
    if (machineId !== undefined) {
      const view = views.get(machineId);
      if (view) removeFromView(view, name);
    }
    changed = true;
  };

  for (const unit of registry.sortedUnits()) {
    const machineId = registry.schedule.get(unit.name);
    if (machineId === undefined) continue;
    const view = views.get(machineId);
    if (unit.desiredState === 'inactive' || unit.isTemplate || unit.requirements.global || !view || unableToRun(view, unit) !== null) {
      unschedule(unit.name);
    }
  }

  // Repeat until nothing more can be placed, so that MachineOf followers land in the same pass as their peers.
  for (let placed = true, round = 0; placed && round <= registry.units.size; round++) {
    placed = false;
    for (const unit of registry.sortedUnits()) {
      if (!wantsPlacement(unit) || registry.schedule.has(unit.name)) continue;
      const target = byLoad(views.values()).find((view) => unableToRun(view, unit) === null);
      if (!target) continue;
      for (const replaced of replacedOn(target, unit)) unschedule(replaced);
      registry.schedule.set(unit.name, target.id);
      addToView(target, unit);
      placed = true;
      changed = true;
    }
  }
  return changed;
}

function wantsPlacement(unit: RegistryUnit): boolean {
  return unit.desiredState !== 'inactive' && !unit.isTemplate && !unit.requirements.global;
}
