import type { UnitOption } from '@dynamite/unit-files';
import type { Registry, RegistryUnit } from '../registry/registry';
import type { Journal } from '../runner/journal';
import { UnitRuntime } from '../runner/unit-runtime';

/** A unit loaded into one simulated machine's "systemd". */
interface LocalUnit {
  name: string;
  hash: string;
  options: UnitOption[];
  runtime: UnitRuntime;
  /** The agent issued a start (and heart-beats the unit). */
  launched: boolean;
  /** Being stopped before removal; its state is published until its processes are gone. */
  unloading: boolean;
}

/** One UnitState as `/state` publishes it. */
export interface UnitStateRecord {
  name: string;
  hash: string;
  machineID: string;
  systemdLoadState: string;
  systemdActiveState: string;
  systemdSubState: string;
}

export interface AgentContext {
  registry: Registry;
  journal: Journal;
  hostname: string;
  bootId: string;
  stopTimeoutMs: number;
  /** Something changed that the next reconcile must see (an unload finished). */
  requestReconcile: () => void;
}

/**
 * fleet's agent on one simulated machine (spec §5.2): makes the units loaded here match the decisions of
 * fleet's engine. load -> start when launched; launched -> loaded stops; not desired or inactive unloads; a hash
 * change unloads and loads again. Starting sets the heartbeat that makes currentState `launched`.
 */
export class Agent {
  private readonly local = new Map<string, LocalUnit>();

  constructor(readonly machineId: string, private readonly ctx: AgentContext) {}

  reconcile(desired: Map<string, RegistryUnit>): void {
    for (const local of this.local.values()) {
      if (local.unloading) continue;
      const unit = desired.get(local.name);
      if (!unit || unit.desiredState === 'inactive' || unit.hash !== local.hash) {
        this.unload(local);
      } else if (unit.desiredState === 'launched' && !local.launched) {
        this.start(local);
      } else if (unit.desiredState === 'loaded' && local.launched) {
        this.stop(local);
      }
    }
    for (const unit of desired.values()) {
      if (unit.desiredState === 'inactive' || this.local.has(unit.name)) continue;
      const local = this.load(unit);
      if (unit.desiredState === 'launched') this.start(local);
    }
  }

  has(name: string): boolean {
    return this.local.has(name);
  }

  states(): UnitStateRecord[] {
    return [...this.local.values()].map((local) => this.record(local));
  }

  state(name: string): UnitStateRecord | null {
    const local = this.local.get(name);
    return local ? this.record(local) : null;
  }

  private record(local: LocalUnit): UnitStateRecord {
    return {
      name: local.name,
      hash: local.hash,
      machineID: this.machineId,
      systemdLoadState: local.runtime.loadState,
      systemdActiveState: local.runtime.activeState,
      systemdSubState: local.runtime.subState,
    };
  }

  /** The main process id of a loaded unit, if it runs (for tests and the journal view). */
  mainPid(name: string): number | null {
    return this.local.get(name)?.runtime.pid ?? null;
  }

  /** Stops every unit (emulator shutdown); resolves when their processes are gone. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.local.values()].map((local) => {
      this.dropHeartbeat(local.name);
      return local.runtime.stop();
    }));
    this.local.clear();
  }

  private load(unit: RegistryUnit): LocalUnit {
    const runtime = new UnitRuntime(unit.options, {
      unitName: unit.name,
      machineId: this.machineId,
      hostname: this.ctx.hostname,
      bootId: this.ctx.bootId,
      journal: this.ctx.journal,
      defaultStopTimeoutMs: this.ctx.stopTimeoutMs,
      onChange: () => undefined,
    });
    const local: LocalUnit = { name: unit.name, hash: unit.hash, options: unit.options, runtime, launched: false, unloading: false };
    this.local.set(unit.name, local);
    this.ctx.journal.append(unit.name, this.machineId, 'emulator', `Loaded ${unit.name} (hash ${unit.hash.slice(0, 7)})`);
    return local;
  }

  private start(local: LocalUnit): void {
    local.launched = true;
    let machines = this.ctx.registry.heartbeats.get(local.name);
    if (!machines) { machines = new Set(); this.ctx.registry.heartbeats.set(local.name, machines); }
    machines.add(this.machineId);
    local.runtime.start();
  }

  private stop(local: LocalUnit): void {
    local.launched = false;
    this.dropHeartbeat(local.name);
    void local.runtime.stop();
  }

  private unload(local: LocalUnit): void {
    local.launched = false;
    local.unloading = true;
    this.dropHeartbeat(local.name);
    void local.runtime.stop().finally(() => {
      if (this.local.get(local.name) === local) this.local.delete(local.name);
      this.ctx.journal.append(local.name, this.machineId, 'emulator', `Unloaded ${local.name}`);
      this.ctx.requestReconcile();
    });
  }

  private dropHeartbeat(name: string): void {
    const machines = this.ctx.registry.heartbeats.get(name);
    if (!machines) return;
    machines.delete(this.machineId);
    if (machines.size === 0) this.ctx.registry.heartbeats.delete(name);
  }
}
