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
  /** Period of the reconcile loop (fleet's engine, then the agents); it also runs right after every change. */
  reconcileIntervalMs: number;
  /** How late the agents see the registry; 0 is fast mode (they act in the engine's pass). */
  agentLagMs: number;
  stopTimeoutMs: number;
  bootId: string;
}

/** What every agent is to hold: per machine, the units with their desired state (fleet's AgentState). */
type AgentTargets = Map<string, Map<string, RegistryUnit>>;

/** A unit as the API returns it, keys in Go's struct order; empty fields are left out by the encoder. */
export interface SchemaUnit {
  currentState?: JobState;
  desiredState?: JobState;
  machineID?: string;
  name?: string;
  options?: Array<{ name?: string; section?: string; value?: string }>;
}

/**
 * The simulated fleet cluster: registry, fleet's engine and one agent per machine, reconciled right after every
 * change and on a timer.
 *
 * The agents see the registry `agentLagMs` late: each pass runs fleet's engine at once, and the agents act on
 * its outcome that much later, in order. So currentState and /state follow a change one lag after it and
 * never sooner, as against fleetd, whose agents act on their next reconcile: a client that polls right after
 * a change still sees the old state (fleetctl restart relies on that), and every change is acted on, even one
 * undone before the agents saw it. With a lag of 0 (fast mode) the agents act in the engine's pass.
 *
 * A full pass is one run of fleet's engine and the agents' run on its outcome; `waitForPasses` lets a test wait
 * until the emulator has done what it was going to do, without sleeping.
 */
export class Cluster {
  readonly machines: MachineSet;
  readonly registry: Registry;
  readonly journal = new Journal();
  private readonly agents = new Map<string, Agent>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private pending = false;
  private stopped = false;
  private startedPasses = 0;
  private completedPasses = 0;
  private passWaiters: Array<{ target: number; resolve: (passes: number) => void; reject: (err: Error) => void }> = [];

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

  get agentLagMs(): number {
    return this.options.agentLagMs;
  }

  /** Full passes (fleet's engine, then every agent on its outcome) completed since the start. */
  get passes(): number {
    return this.completedPasses;
  }

  /** Calls of waitForPasses still waiting. */
  get passWaiterCount(): number {
    return this.passWaiters.length;
  }

  start(): void {
    const timer = setInterval(() => this.pass(), this.options.reconcileIntervalMs);
    timer.unref();
    this.timers.add(timer);
    this.requestReconcile();
  }

  /** Coalesces the reconciles asked for by one burst of changes into one pass. */
  requestReconcile(): void {
    if (this.pending || this.stopped) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.pass();
    });
  }

  /** Resolves with the pass count once `count` passes that start after this call have completed. */
  waitForPasses(count: number): Promise<number> {
    if (this.stopped) return Promise.reject(new Error('the emulator is stopping'));
    return new Promise((resolve, reject) => this.passWaiters.push({ target: this.startedPasses + count, resolve, reject }));
  }

  private pass(): void {
    if (this.stopped) return;
    this.startedPasses++;
    reconcileSchedule(this.registry, this.machines);
    if (this.options.agentLagMs === 0) return this.reconcileAgents(this.agentTargets(false));
    const targets = this.agentTargets(true);
    // Timers of equal delay fire in the order they were set, so the agents see the passes in order.
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.reconcileAgents(targets);
    }, this.options.agentLagMs);
    timer.unref();
    this.timers.add(timer);
  }

  /**
   * What each machine should hold now; copied when the agents act later (the registry updates desiredState in
   * place), not when they act in this pass.
   */
  private agentTargets(copy: boolean): AgentTargets {
    const targets: AgentTargets = new Map();
    for (const [machineId, view] of machineViews(this.registry, this.machines)) {
      targets.set(machineId, copy ? new Map([...view.units].map(([name, unit]) => [name, { ...unit }])) : view.units);
    }
    return targets;
  }

  private reconcileAgents(targets: AgentTargets): void {
    if (this.stopped) return;
    for (const agent of this.agents.values()) agent.reconcile(targets.get(agent.machineId) ?? new Map());
    this.completedPasses++;
    const due = this.passWaiters.filter((w) => w.target <= this.completedPasses);
    if (due.length === 0) return;
    this.passWaiters = this.passWaiters.filter((w) => w.target > this.completedPasses);
    for (const waiter of due) waiter.resolve(this.completedPasses);
  }

  /** Stops the loops and every unit's processes. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.passWaiters) waiter.reject(new Error('the emulator is stopping'));
    this.passWaiters = [];
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

  /** Every published unit state, or those of one unit (a look-up per agent, not a sort of every state). */
  unitStates(name?: string): UnitStateRecord[] {
    const states: UnitStateRecord[] = [];
    for (const agent of this.agents.values()) {
      if (name === undefined) states.push(...agent.states());
      else {
        const state = agent.state(name);
        if (state) states.push(state);
      }
    }
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
