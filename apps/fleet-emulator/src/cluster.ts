import os from 'node:os';
import { Agent, type UnitStateRecord } from './agent/agent';
import { machineViews, reconcileSchedule } from './fleet-engine/reconcile';
import type { JobState } from './registry/job-state';
import { MachineSet, type SimMachine } from './registry/machines';
import { compareBytes, Registry, registryUnit, type RegistryUnit } from './registry/registry';
import { Journal } from './runner/journal';
import type { UnitOption } from '@dynamite/unit-files';

export interface ClusterOptions {
  machines: SimMachine[];
  reconcileIntervalMs: number;
  stopTimeoutMs: number;
  bootId: string;
}

/** A unit as the API returns it, keys in Go's struct order; empty fields are left out by the encoder. */
export interface SchemaUnit {
  currentState?: JobState;
  desiredState?: JobState;
  machineID?: string;
  name?: string;
  options?: Array<{ name?: string; section?: string; value?: string }>;
}

/**
 * The simulated fleet cluster: registry, fleet's engine and one agent per machine, reconciled on every change and on
 * a short timer (fleet's 2 s / 5 s loops, made fast for tests).
 */
export class Cluster {
  readonly machines: MachineSet;
  readonly registry: Registry;
  readonly journal = new Journal();
  private readonly agents = new Map<string, Agent>();
  private timer: NodeJS.Timeout | null = null;
  private pending = false;
  private stopped = false;

  constructor(private readonly options: ClusterOptions) {
    this.machines = new MachineSet(options.machines);
    this.registry = new Registry(this.machines);
    const hostname = os.hostname();
    for (const machine of options.machines) {
      this.agents.set(machine.id, new Agent(machine.id, {
        registry: this.registry,
        journal: this.journal,
        hostname,
        bootId: options.bootId,
        stopTimeoutMs: options.stopTimeoutMs,
        requestReconcile: () => this.requestReconcile(),
      }));
    }
    this.registry.on('change', () => this.requestReconcile());
  }

  start(): void {
    this.timer = setInterval(() => this.reconcile(), this.options.reconcileIntervalMs);
    this.timer.unref();
    this.requestReconcile();
  }

  /** Coalesces the reconciles asked for by one burst of changes into one pass. */
  requestReconcile(): void {
    if (this.pending || this.stopped) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.reconcile();
    });
  }

  reconcile(): void {
    if (this.stopped) return;
    reconcileSchedule(this.registry, this.machines);
    const views = machineViews(this.registry, this.machines);
    for (const agent of this.agents.values()) agent.reconcile(views.get(agent.machineId)?.units ?? new Map());
  }

  /** Stops the loops and every unit's processes. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.agents.values()].map((agent) => agent.shutdown()));
  }

  // --- reads, as fleet's API computes them ---

  /** fleet's determineJobState (spec §5.1). */
  currentState(name: string): JobState {
    const target = this.registry.schedule.get(name);
    if (target === undefined) return 'inactive';
    if (!this.agents.get(target)?.has(name)) return 'inactive';
    return this.registry.heartbeats.get(name)?.has(target) ? 'launched' : 'loaded';
  }

  /** `GET /units/{name}`: global units have neither currentState nor machineID. */
  schemaUnit(unit: RegistryUnit, inList: boolean): SchemaUnit {
    const global = unit.requirements.global;
    const machineID = global ? undefined : this.registry.schedule.get(unit.name);
    return {
      currentState: global ? (inList ? 'inactive' : undefined) : this.currentState(unit.name),
      desiredState: unit.desiredState,
      machineID,
      name: unit.name,
      options: unit.options.map((o) => ({ name: o.name || undefined, section: o.section || undefined, value: o.value || undefined })),
    };
  }

  listUnits(): SchemaUnit[] {
    return this.registry.sortedUnits().map((unit) => this.schemaUnit(unit, true));
  }

  unitStates(): UnitStateRecord[] {
    const states: UnitStateRecord[] = [];
    for (const agent of this.agents.values()) states.push(...agent.states());
    return states.sort((a, b) => compareBytes(a.name, b.name) || compareBytes(a.machineID, b.machineID));
  }

  /** The main pid of a unit on a machine (first machine that runs it when none is given). */
  mainPid(name: string, machineId?: string): number | null {
    for (const agent of this.agents.values()) {
      if (machineId !== undefined && agent.machineId !== machineId) continue;
      const pid = agent.mainPid(name);
      if (pid !== null) return pid;
    }
    return null;
  }

  // --- writes ---

  putUnit(name: string, normalizedOptions: UnitOption[], desiredState: JobState): void {
    this.registry.put(registryUnit(name, normalizedOptions, desiredState));
  }
}
