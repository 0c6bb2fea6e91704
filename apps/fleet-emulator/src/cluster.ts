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
  /** Period of fleet's engine loop (and of the agents' in fast mode). */
  reconcileIntervalMs: number;
  /**
   * Fast mode: the agents act in the same pass as the engine, right after every change, so currentState
   * follows desiredState within milliseconds. Off (fleet-like): they act only on their own timer.
   */
  fastAgent: boolean;
  /** Period of the agents' loop when not in fast mode (fleet's agent: 5 s and on etcd events). */
  agentIntervalMs: number;
  stopTimeoutMs: number;
  bootId: string;
}

/** What every agent is to do: per machine, the units it should hold (fleet's AgentState). */
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
 * The simulated fleet cluster: registry, fleet's engine and one agent per machine.
 *
 * fleet's engine runs right after every change and on a timer. The agents run in one of two timings:
 * - fleet-like (the default): every `agentIntervalMs`, each agent pass acting on what the registry said at the
 *   previous pass, one interval earlier (fleet's agent reads etcd, then acts). A change shows in currentState
 *   and /state one to two intervals after it and never sooner than one, so a client that polls right after a
 *   change still sees the old state, as against fleetd (fleetctl restart relies on it).
 * - fast (`fastAgent`): the agents act in the engine's pass, right after every change.
 *
 * A full pass is one run of fleet's engine followed by one run of every agent; `passes` counts them, and
 * `waitForPasses` lets a test wait until nothing more will happen without sleeping.
 */
export class Cluster {
  readonly machines: MachineSet;
  readonly registry: Registry;
  readonly journal = new Journal();
  private readonly agents = new Map<string, Agent>();
  private readonly timers: NodeJS.Timeout[] = [];
  private pending = false;
  private stopped = false;
  /** Fleet-like timing: what the agents read at their last pass, applied at their next. */
  private agentTargets: AgentTargets = new Map();
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

  get fastAgent(): boolean {
    return this.options.fastAgent;
  }

  /** Full passes (fleet's engine, then every agent) completed since the start. */
  get passes(): number {
    return this.completedPasses;
  }

  /** Calls of waitForPasses still waiting. */
  get passWaiterCount(): number {
    return this.passWaiters.length;
  }

  start(): void {
    const every = (ms: number, pass: () => void) => {
      const timer = setInterval(pass, ms);
      timer.unref();
      this.timers.push(timer);
    };
    if (this.options.fastAgent) {
      every(this.options.reconcileIntervalMs, () => this.fullPass());
    } else {
      every(this.options.reconcileIntervalMs, () => this.enginePass());
      every(this.options.agentIntervalMs, () => this.fullPass());
      this.agentTargets = this.engineTargets();
    }
    this.requestReconcile();
  }

  /** Coalesces the reconciles asked for by one burst of changes into one pass. */
  requestReconcile(): void {
    if (this.pending || this.stopped) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      if (this.options.fastAgent) this.fullPass();
      else this.enginePass();
    });
  }

  /** Resolves with the pass count once `count` full passes have completed after this call. */
  waitForPasses(count: number): Promise<number> {
    if (this.stopped) return Promise.reject(new Error('the emulator is stopping'));
    return new Promise((resolve, reject) => this.passWaiters.push({ target: this.completedPasses + count, resolve, reject }));
  }

  private enginePass(): void {
    if (this.stopped) return;
    reconcileSchedule(this.registry, this.machines);
  }

  private fullPass(): void {
    if (this.stopped) return;
    const targets = this.engineTargets();
    const apply = this.options.fastAgent ? targets : this.agentTargets;
    this.agentTargets = targets;
    for (const agent of this.agents.values()) agent.reconcile(apply.get(agent.machineId) ?? new Map());
    this.completedPasses++;
    const due = this.passWaiters.filter((w) => w.target <= this.completedPasses);
    if (due.length === 0) return;
    this.passWaiters = this.passWaiters.filter((w) => w.target > this.completedPasses);
    for (const waiter of due) waiter.resolve(this.completedPasses);
  }

  /** Runs fleet's engine, then copies what each machine should hold (desiredState is updated in place). */
  private engineTargets(): AgentTargets {
    reconcileSchedule(this.registry, this.machines);
    const targets: AgentTargets = new Map();
    for (const [machineId, view] of machineViews(this.registry, this.machines)) {
      targets.set(machineId, new Map([...view.units].map(([name, unit]) => [name, { ...unit }])));
    }
    return targets;
  }

  /** Stops the loops and every unit's processes. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
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
