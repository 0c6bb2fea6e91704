import {
  INITIAL_MACHINE_STATE,
  cooldownEndAfter,
  stepMachine,
  type DecisionRecord,
  type FireEffect,
  type MachineContext,
  type MachineEvent,
  type MachineState,
  type MachineStep,
  type ScalingPolicyConfig,
} from '@dynamite/domain';

/**
 * A miniature engine for one (service, policy): one state machine per machine, one shared cooldown, delayed
 * timer jobs, all driven by an explicit clock. Events are processed in the order they are given; a sample's
 * processing time is its receivedAt, a timer job's is its due time plus the job delay.
 */

export interface SimFire extends FireEffect {
  machine: string;
  /** When the step that fired ran (the engine's clock). */
  now: number;
  /** The cooldown in force before the step ran. */
  cooldownBefore: number | null;
}

export interface SimStep {
  machine: string;
  event: MachineEvent;
  now: number;
  cooldownBefore: number | null;
  result: MachineStep;
}

export interface SimOptions {
  service?: string;
  policy: ScalingPolicyConfig;
  direction?: 'up' | 'down';
  /** How late a timer job runs after its due time; null = the job is lost (only samples close windows). */
  timerDelay?: (dueAt: number) => number | null;
  /** Whether a fire's decision is an action (and so starts the cooldown); default always. */
  commits?: (fire: FireEffect) => boolean;
}

export class PolicySim {
  readonly states = new Map<string, MachineState>();
  cooldownUntil: number | null = null;
  readonly fires: SimFire[] = [];
  readonly records: DecisionRecord[] = [];
  readonly steps: SimStep[] = [];
  private timers: { runAt: number; machine: string; timerId: string }[] = [];

  constructor(readonly opts: SimOptions) {}

  get service(): string {
    return this.opts.service ?? 'apache';
  }

  state(machine: string): MachineState {
    return this.states.get(machine) ?? INITIAL_MACHINE_STATE;
  }

  /** A sample with key timestamp `ts` received at `receivedAt` (default: the same instant). */
  sample(machine: string, ts: number, value: number, receivedAt = ts, tsKey = new Date(ts).toISOString()): MachineStep {
    this.runTimersUntil(receivedAt);
    return this.step(machine, { kind: 'sample', sample: { tsKey, ts, value, receivedAt } }, receivedAt);
  }

  /** Runs every timer job due by `t`, in due order. */
  runTimersUntil(t: number): void {
    for (;;) {
      this.timers.sort((a, b) => a.runAt - b.runAt);
      const next = this.timers[0];
      if (next === undefined || next.runAt > t) return;
      this.timers.shift();
      this.step(next.machine, { kind: 'timer-expired', timerId: next.timerId }, next.runAt);
    }
  }

  /** Delivers a timer event directly (e.g. a stale job). */
  timer(machine: string, timerId: string, now: number): MachineStep {
    return this.step(machine, { kind: 'timer-expired', timerId }, now);
  }

  pendingTimers(): { runAt: number; machine: string; timerId: string }[] {
    return [...this.timers];
  }

  private step(machine: string, event: MachineEvent, now: number): MachineStep {
    const ctx: MachineContext = {
      service: this.service,
      policy: this.opts.policy,
      direction: this.opts.direction ?? 'up',
      machine,
      cooldownUntil: this.cooldownUntil,
      now,
    };
    const cooldownBefore = this.cooldownUntil;
    const result = stepMachine(this.state(machine), event, ctx);
    this.steps.push({ machine, event, now, cooldownBefore, result });
    this.states.set(machine, result.state);
    for (const effect of result.effects) {
      switch (effect.kind) {
        case 'arm-timer': {
          const delay = this.opts.timerDelay ? this.opts.timerDelay(effect.at) : 0;
          if (delay !== null) this.timers.push({ runAt: effect.at + delay, machine, timerId: effect.timerId });
          break;
        }
        case 'cancel-timer':
          this.timers = this.timers.filter((t) => t.timerId !== effect.timerId);
          break;
        case 'record':
          this.records.push(effect.record);
          break;
        case 'fire':
          this.fires.push({ ...effect, machine, now, cooldownBefore });
          if (this.opts.commits ? this.opts.commits(effect) : true) {
            this.cooldownUntil = cooldownEndAfter(this.opts.policy, effect.at);
          }
          break;
      }
    }
    return result;
  }
}
