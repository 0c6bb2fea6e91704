import type { UnitOption } from '@dynamite/unit-files';
import type { ExecCommand } from './command-line';
import type { Journal } from './journal';
import { processEnvironment, specifierContext, workingDirectory } from './process-environment';
import { aliveGroups, groupAlive, signalGroup, untrackGroup } from './process-groups';
import { serviceConfig, type ServiceConfig } from './service-config';
import { EXIT_CHDIR, spawnCommand, type ExitResult, type SpawnedCommand } from './spawn-command';

/** Where a service is in systemd's life cycle; each maps to an ActiveState/SubState pair. */
export type Phase =
  | 'dead' | 'failed' | 'start-pre' | 'start' | 'start-post' | 'running' | 'exited' | 'auto-restart'
  | 'stop' | 'stop-sigterm' | 'stop-sigkill' | 'stop-post';

const ACTIVE_STATE: Record<Phase, string> = {
  dead: 'inactive', failed: 'failed', 'start-pre': 'activating', start: 'activating', 'start-post': 'activating',
  running: 'active', exited: 'active', 'auto-restart': 'activating', stop: 'deactivating',
  'stop-sigterm': 'deactivating', 'stop-sigkill': 'deactivating', 'stop-post': 'deactivating',
};

const CLEAN_SIGNALS: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE'];
const START_LIMIT_BURST = 5;
const START_LIMIT_INTERVAL_MS = 10_000;
const GROUP_POLL_MS = 25;
const KILL_GRACE_MS = 2_000;

export interface RuntimeContext {
  unitName: string;
  machineId: string;
  hostname: string;
  bootId: string;
  journal: Journal;
  /** Used when the unit has no TimeoutStopSec=. */
  defaultStopTimeoutMs: number;
  onChange: () => void;
}

type Outcome = 'success' | 'failure';

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(result: ExitResult): string {
  if (result.error) return result.error;
  if (result.signal) return `killed by signal ${result.signal}`;
  return `exited with status ${result.code}`;
}

/**
 * One unit loaded on one simulated machine, run like systemd runs a service: ExecStartPre, ExecStart,
 * ExecStartPost, ExecStop, ExecStopPost, Type, RemainAfterExit, Restart, RestartSec, TimeoutStopSec and
 * KillMode over real processes, each in its own process group.
 */
export class UnitRuntime {
  readonly config: ServiceConfig;
  private phaseValue: Phase = 'dead';
  /** Bumped by every start and stop; an async step that sees a newer value stops doing anything. */
  private generation = 0;
  private readonly groups = new Set<number>();
  /** Exit promises of the processes we spawned and that have not been reaped yet. */
  private readonly exits = new Map<number, Promise<ExitResult>>();
  /** Spawns asked of the spawner process and not answered yet. */
  private readonly spawning = new Set<Promise<unknown>>();
  private mainPid: number | null = null;
  private mainResult: ExitResult | null = null;
  private stopping: Promise<void> | null = null;
  private startAgain = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly startTimes: number[] = [];

  constructor(options: UnitOption[], private readonly ctx: RuntimeContext) {
    this.config = serviceConfig(options, specifierContext(ctx));
    for (const warning of this.config.warnings) this.log(warning);
    if (this.config.loadError) this.log(this.config.loadError);
  }

  get phase(): Phase {
    return this.phaseValue;
  }

  get loadState(): string {
    return this.config.runnable && this.config.loadError !== null ? 'error' : 'loaded';
  }

  get activeState(): string {
    return ACTIVE_STATE[this.phaseValue];
  }

  get subState(): string {
    return this.phaseValue;
  }

  /** The main process, while there is one. */
  get pid(): number | null {
    return this.mainPid;
  }

  start(): void {
    if (!this.config.runnable || this.config.loadError !== null) return;
    if (this.stopping) { this.startAgain = true; return; }
    if (['start-pre', 'start', 'start-post', 'running', 'exited', 'auto-restart'].includes(this.phaseValue)) return;
    // A simple service is still 'dead' while its main process is being spawned: that start is under way.
    if (this.spawning.size > 0) return;
    this.beginStart();
  }

  /** Stops the service and everything it started; resolves when no process of it is left. */
  stop(): Promise<void> {
    this.startAgain = false;
    if (this.stopping) return this.stopping;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
    if (this.phaseValue === 'auto-restart') { this.generation++; this.setPhase('dead'); }
    if (this.groups.size === 0 && this.spawning.size === 0 && (this.phaseValue === 'dead' || this.phaseValue === 'failed')) return Promise.resolve();
    const started = ['running', 'exited', 'start-post'].includes(this.phaseValue);
    const generation = ++this.generation;
    this.stopping = this.stopSequence(generation, started, 'requested').finally(() => {
      this.stopping = null;
      if (this.startAgain) { this.startAgain = false; this.start(); }
    });
    return this.stopping;
  }

  private beginStart(): void {
    const now = Date.now();
    while (this.startTimes.length && now - this.startTimes[0] > START_LIMIT_INTERVAL_MS) this.startTimes.shift();
    this.startTimes.push(now);
    const generation = ++this.generation;
    this.mainResult = null;
    void this.runStart(generation).catch((err: unknown) => {
      this.log(`internal error while starting: ${(err as Error).message}`);
      if (generation === this.generation) this.setPhase('failed');
    });
  }

  private async runStart(generation: number): Promise<void> {
    const env = this.environment();
    const cwd = this.workingDirectory();
    if (cwd === null) return this.afterExit(generation, { code: EXIT_CHDIR, signal: null, error: 'Changing to the requested working directory failed' }, false);
    const config = this.config;

    if (config.execStartPre.length > 0) this.setPhase('start-pre');
    for (const command of config.execStartPre) {
      const result = await this.runControl(command, env, cwd);
      if (generation !== this.generation) return;
      if (!this.succeeded(result) && !command.ignoreFailure) return this.afterExit(generation, result, false);
    }

    if (config.type === 'oneshot') {
      this.setPhase('start');
      for (const command of config.execStart) {
        const result = await this.runControl(command, env, cwd);
        if (generation !== this.generation) return;
        if (!this.succeeded(result) && !command.ignoreFailure) return this.afterExit(generation, result, false);
      }
      if (!(await this.runStartPost(generation, env, cwd))) return;
      if (config.remainAfterExit) { this.setPhase('exited'); return; }
      return this.afterExit(generation, { code: 0, signal: null }, true);
    }

    const command = config.execStart[0];
    this.log(`Starting: ${command.text}`);
    const spawned = await this.spawn(command, env, cwd);
    if (generation !== this.generation) {
      // A stop came while it was being started: stopSequence waited for this spawn and signals its group, but
      // not with KillMode=process, which signals the main process alone (never recorded: it is stale).
      if ('pid' in spawned && this.config.killMode === 'process') signalGroup(spawned.pid, this.config.killSignal);
      return;
    }
    if (!('pid' in spawned)) {
      this.log(describe(spawned));
      return this.afterExit(generation, spawned, false);
    }
    this.mainPid = spawned.pid;
    void spawned.exited.then((result) => this.onMainExit(generation, spawned.pid, command, result));
    if (!(await this.runStartPost(generation, { ...env, MAINPID: String(spawned.pid) }, cwd))) return;
    if (generation === this.generation && this.mainPid === spawned.pid) this.setPhase('running');
  }

  private async runStartPost(generation: number, env: Record<string, string>, cwd: string): Promise<boolean> {
    if (this.config.execStartPost.length === 0) return true;
    this.setPhase('start-post');
    for (const command of this.config.execStartPost) {
      const result = await this.runControl(command, env, cwd);
      if (generation !== this.generation) return false;
      if (!this.succeeded(result) && !command.ignoreFailure) {
        await this.afterExit(generation, result, false);
        return false;
      }
    }
    return true;
  }

  private onMainExit(generation: number, pid: number, command: ExecCommand, result: ExitResult): void {
    if (this.mainPid === pid) this.mainPid = null;
    this.mainResult = result;
    this.log(`Main process ${pid} (${command.words[0]}) ${describe(result)}`);
    // During a requested stop the stop sequence owns what happens next.
    if (generation !== this.generation || this.stopping) return;
    const next = ++this.generation;
    void this.afterExit(next, result, true);
  }

  /** The service ended by itself (or failed to start): clean up, then restart, fail, or go inactive. */
  private async afterExit(generation: number, result: ExitResult, started: boolean): Promise<void> {
    const outcome: Outcome = this.succeeded(result) ? 'success' : 'failure';
    if (this.groups.size > 0 || this.config.execStopPost.length > 0 || (started && this.config.execStop.length > 0)) {
      this.stopping = this.stopSequence(generation, started, outcome).finally(() => { this.stopping = null; });
      await this.stopping;
    } else if (generation === this.generation) {
      this.settle(outcome, result);
    }
    if (generation !== this.generation) return;
    if (this.phaseValue === 'dead' || this.phaseValue === 'failed') this.maybeRestart(generation, result);
    if (this.startAgain) { this.startAgain = false; this.start(); }
  }

  private maybeRestart(generation: number, result: ExitResult): void {
    if (!this.shouldRestart(result)) return;
    const now = Date.now();
    const recent = this.startTimes.filter((t) => now - t <= START_LIMIT_INTERVAL_MS);
    if (recent.length >= START_LIMIT_BURST) {
      this.log('Start request repeated too quickly.');
      this.setPhase('failed');
      return;
    }
    this.setPhase('auto-restart');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (generation === this.generation && this.phaseValue === 'auto-restart') {
        this.log('Scheduled restart.');
        this.beginStart();
      }
    }, this.config.restartMs);
  }

  private shouldRestart(result: ExitResult): boolean {
    const clean = this.succeeded(result);
    const uncleanSignal = result.signal !== null && !CLEAN_SIGNALS.includes(result.signal);
    switch (this.config.restart) {
      case 'always': return true;
      case 'on-success': return clean;
      case 'on-failure': return !clean;
      case 'on-abnormal': return uncleanSignal;
      case 'on-abort': return uncleanSignal;
      default: return false;
    }
  }

  /**
   * ExecStop (only if the service had started), then the kill signal to what is left, SIGKILL after the
   * stop timeout, then ExecStopPost. `reason` is 'requested' for a stop the agent asked for.
   */
  private async stopSequence(generation: number, started: boolean, reason: Outcome | 'requested'): Promise<void> {
    const env = this.environment();
    const cwd = this.workingDirectory() ?? '/';
    const timeoutMs = this.config.timeoutStopMs ?? this.ctx.defaultStopTimeoutMs;
    let outcome: Outcome = reason === 'requested' ? 'success' : reason;
    // What is being started now is signalled with the rest.
    while (this.spawning.size > 0) await Promise.all(this.spawning);

    if (started && this.config.execStop.length > 0) {
      this.setPhase('stop');
      const stopEnv = this.mainPid !== null ? { ...env, MAINPID: String(this.mainPid) } : env;
      for (const command of this.config.execStop) {
        const result = await this.runControl(command, stopEnv, cwd, timeoutMs);
        if (!this.succeeded(result) && !command.ignoreFailure) this.log(`ExecStop ${describe(result)}`);
      }
    }

    // Every group that still exists gets the signal (harmless to a group of zombies): no /proc scan per unit here.
    const leftovers = this.killTargets().filter(groupAlive);
    if (leftovers.length > 0) {
      this.setPhase('stop-sigterm');
      for (const pgid of leftovers) signalGroup(pgid, this.config.killSignal);
      if (this.config.killMode === 'mixed') for (const pgid of this.groups) if (pgid !== this.mainPid) signalGroup(pgid, 'SIGKILL');
      const gone = await this.waitForGroups(leftovers, timeoutMs);
      if (!gone) {
        this.log(`State 'stop-sigterm' timed out. Killing.`);
        this.setPhase('stop-sigkill');
        for (const pgid of this.groups) signalGroup(pgid, 'SIGKILL');
        await this.waitForGroups([...this.groups], KILL_GRACE_MS);
        outcome = 'failure';
      } else if (reason === 'requested' && this.mainResult && !this.succeeded(this.mainResult) && this.mainResult.signal !== this.config.killSignal) {
        outcome = 'failure';
      }
    }
    // Wait until our direct children are reaped, so that "stopped" means their pids are gone.
    await Promise.race([Promise.all(this.exits.values()), delay(KILL_GRACE_MS)]);
    for (const pgid of this.groups) untrackGroup(pgid);
    this.groups.clear();
    this.mainPid = null;

    if (this.config.execStopPost.length > 0) {
      this.setPhase('stop-post');
      const postEnv = { ...env, SERVICE_RESULT: outcome === 'success' ? 'success' : 'exit-code' };
      for (const command of this.config.execStopPost) await this.runControl(command, postEnv, cwd, timeoutMs);
    }
    if (generation === this.generation || reason === 'requested') this.settle(outcome, this.mainResult);
  }

  private settle(outcome: Outcome, result: ExitResult | null): void {
    if (outcome === 'failure' && result) this.log(`Unit entered failed state: ${describe(result)}`);
    this.setPhase(outcome === 'success' ? 'dead' : 'failed');
  }

  /** Starts a command and tracks its group; a stop waits for the spawns in flight before it signals. */
  private spawn(command: ExecCommand, env: Record<string, string>, cwd: string): Promise<SpawnedCommand | ExitResult> {
    const spawning = spawnCommand(command, this.spawnOptions(env, cwd)).then((spawned) => {
      if ('pid' in spawned) {
        this.groups.add(spawned.pid);
        this.exits.set(spawned.pid, spawned.exited);
        void spawned.exited.then(() => this.exits.delete(spawned.pid));
      }
      return spawned;
    });
    this.spawning.add(spawning);
    void spawning.finally(() => this.spawning.delete(spawning));
    return spawning;
  }

  private killTargets(): number[] {
    const groups = [...this.groups];
    if (this.config.killMode === 'none') return [];
    if (this.config.killMode === 'process') return this.mainPid !== null ? [this.mainPid] : [];
    return groups;
  }

  /**
   * Polls until none of the groups has a live process; false on timeout. Each poll comes after a pause and reads a
   * /proc scan taken after the signals were sent, shared by every unit stopping at the same time.
   */
  private async waitForGroups(pgids: number[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + (Number.isFinite(timeoutMs) ? timeoutMs : 1e12);
    const signalled = performance.now();
    let remaining = new Set(pgids);
    for (;;) {
      await delay(GROUP_POLL_MS);
      remaining = aliveGroups(remaining, signalled);
      if (remaining.size === 0) return true;
      if (Date.now() >= deadline) return false;
    }
  }

  /** Runs a control process (ExecStartPre, ExecStop, ...) to completion; kills it after `timeoutMs`. */
  private async runControl(command: ExecCommand, env: Record<string, string>, cwd: string, timeoutMs = Infinity): Promise<ExitResult> {
    this.log(`Running: ${command.text}`);
    const spawned = await this.spawn(command, env, cwd);
    if (!('pid' in spawned)) {
      this.log(describe(spawned));
      return spawned;
    }
    let timer: NodeJS.Timeout | null = null;
    if (Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => {
        this.log(`${command.words[0]} timed out; killing it`);
        signalGroup(spawned.pid, 'SIGKILL');
      }, timeoutMs);
    }
    const result = await spawned.exited;
    if (timer) clearTimeout(timer);
    // A control process's group is finished with it; stray children get the kill signal now.
    if (aliveGroups([spawned.pid]).size === 0) { this.groups.delete(spawned.pid); untrackGroup(spawned.pid); }
    if (!this.succeeded(result)) this.log(`${command.words[0]} ${describe(result)}${command.ignoreFailure ? ' (ignored)' : ''}`);
    return result;
  }

  private succeeded(result: ExitResult): boolean {
    if (result.error) return false;
    if (result.code === 0) return true;
    return result.signal !== null && CLEAN_SIGNALS.includes(result.signal);
  }

  private environment(): Record<string, string> {
    return processEnvironment(this.config, { warn: (message) => this.log(message) });
  }

  private workingDirectory(): string | null {
    return workingDirectory(this.config, { warn: (message) => this.log(message) });
  }

  private spawnOptions(env: Record<string, string>, cwd: string) {
    return {
      env,
      cwd,
      stdout: this.ctx.journal.lineWriter(this.ctx.unitName, this.ctx.machineId, 'stdout'),
      stderr: this.ctx.journal.lineWriter(this.ctx.unitName, this.ctx.machineId, 'stderr'),
    };
  }

  private setPhase(phase: Phase): void {
    if (this.phaseValue === phase) return;
    this.phaseValue = phase;
    this.ctx.onChange();
  }

  private log(message: string): void {
    this.ctx.journal.append(this.ctx.unitName, this.ctx.machineId, 'emulator', message);
  }
}
