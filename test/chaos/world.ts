import IORedis from 'ioredis';
import { readCandidates } from '@dynamite/engine';
import { EngineHarness, sleep, type EngineProcess } from '../support/engine-harness';
import { RedisServer } from '../support/redis';
import { EtcdCluster } from '../ha/etcd-cluster';
import { logTime, signal as signalGroup } from '../ha/support';
import { chaosConfig } from './load';
import { WORKER_SLOTS, type Fault } from './schedule';

/** One engine process the run keeps alive: started again after a kill, or after it exited on its own. */
export interface Slot {
  name: string;
  command: 'scheduler' | 'worker';
  proc: EngineProcess | null;
  /** Set while the run itself stops the process (a kill fault, the end): its exit is expected. */
  expectExit: boolean;
  stopped: boolean;
}

export interface Crash {
  atMs: number;
  slot: string;
  code: number | null;
  lastLine: string;
}

/** A leader scheduler killed or stopped, and when (wall ms): failover times are measured from its logs later. */
export interface LeaderFault {
  faultId: number;
  kind: string;
  at: number;
  slot: string;
}

/**
 * Everything a chaos run starts: a 3-member etcd cluster, a private redis-server (FLUSHALLed and restarted), the
 * fleet emulator, 2 `dynamite scheduler` and 3 `dynamite worker` processes, and the faults injected on them.
 */
export class ChaosWorld {
  readonly slots: Slot[] = [];
  readonly crashes: Crash[] = [];
  readonly leaderFaults: LeaderFault[] = [];
  /** What each fault resolved its target to (`leader` -> scheduler-2). */
  readonly resolved = new Map<number, string>();
  private closing = false;
  t0 = Date.now();

  private constructor(readonly cluster: EtcdCluster, readonly redis: RedisServer, readonly h: EngineHarness, private readonly ttlSeconds: number, private readonly say: (line: string) => void) {}

  static async start(opts: { ttlSeconds: number; say: (line: string) => void }): Promise<ChaosWorld> {
    const cluster = await EtcdCluster.start(3);
    const redis = await RedisServer.start().catch(async (err) => { await cluster.stop(); throw err; });
    const h = await EngineHarness.start({
      suite: 'chaos',
      ...chaosConfig(),
      env: { DYNAMITE_LOG_LEVEL: 'info' },
      redisUrl: redis.url,
      etcd: async () => ({ endpoint: cluster.endpoint, hosts: cluster.hosts, stop: () => cluster.stop() }),
    }).catch(async (err) => { await redis.stop(); await cluster.stop(); throw err; });
    return new ChaosWorld(cluster, redis, h, opts.ttlSeconds, opts.say);
  }

  /** Starts the schedulers and workers. */
  startEngine(): void {
    for (let i = 1; i <= 2; i += 1) this.slots.push({ name: `scheduler-${i}`, command: 'scheduler', proc: null, expectExit: false, stopped: false });
    for (let i = 1; i <= WORKER_SLOTS; i += 1) this.slots.push({ name: `worker-${i}`, command: 'worker', proc: null, expectExit: false, stopped: false });
    for (const slot of this.slots) this.launch(slot);
  }

  private launch(slot: Slot): void {
    const extra = slot.command === 'scheduler'
      ? ['--scheduler_id', `chaos-${slot.name}`, '--leader_ttl', String(this.ttlSeconds)]
      // Jobs of a killed or stopped worker are taken over after 3 s instead of 30.
      : ['--lock_duration', '3000'];
    const proc = this.h.spawn(slot.command, extra);
    slot.proc = proc;
    slot.expectExit = false;
    slot.stopped = false;
    // A process that exits on its own is a crash: note it, start it again as a supervisor would.
    void proc.exited.then(async (code) => {
      if (slot.proc !== proc || slot.expectExit || this.closing) return;
      const lines = this.h.log(proc).trim().split('\n');
      this.crashes.push({ atMs: Date.now() - this.t0, slot: slot.name, code, lastLine: (lines[lines.length - 1] ?? '').slice(0, 300) });
      this.say(`  ${slot.name} exited on its own (code ${code}); starting it again`);
      await sleep(1_000);
      if (slot.proc === proc && !this.closing) this.launch(slot);
    });
  }

  slot(name: string): Slot {
    return this.slots.find((s) => s.name === name)!;
  }

  /** The slot of the scheduler that leads now (its election key is the oldest), or null if etcd does not say. */
  async leaderSlot(): Promise<Slot | null> {
    try {
      const candidates = await Promise.race([readCandidates(this.h.etcd), sleep(2_000).then(() => null)]);
      const id = candidates?.[0]?.id;
      return id ? this.slots.find((s) => `chaos-${s.name}` === id) ?? null : null;
    } catch {
      return null;
    }
  }

  private async schedulerTarget(role: string): Promise<Slot> {
    const leader = await this.leaderSlot();
    const schedulers = this.slots.filter((s) => s.command === 'scheduler');
    if (role === 'leader') return leader ?? schedulers[0]!;
    return schedulers.find((s) => s !== leader) ?? schedulers[1]!;
  }

  /** Injects one fault and undoes it after its duration; resolves when it is undone. */
  async inject(f: Fault): Promise<void> {
    const { cluster, redis, h } = this;
    switch (f.kind) {
      case 'kill-scheduler':
      case 'kill-worker':
      case 'stop-scheduler':
      case 'stop-worker': {
        const slot = f.kind.endsWith('scheduler') ? await this.schedulerTarget(f.target) : this.slot(f.target);
        this.resolved.set(f.id, slot.name);
        const leader = f.kind.endsWith('scheduler') ? await this.leaderSlot() : null;
        if (leader === slot) this.leaderFaults.push({ faultId: f.id, kind: f.kind, at: Date.now(), slot: slot.name });
        const proc = slot.proc;
        if (!proc) return;
        if (f.kind.startsWith('kill')) {
          slot.expectExit = true;
          await h.kill(proc, 'SIGKILL');
          await sleep(f.durationMs);
          if (!this.closing) this.launch(slot);
        } else {
          signalGroup(proc, 'SIGSTOP');
          slot.stopped = true;
          await sleep(f.durationMs);
          signalGroup(proc, 'SIGCONT');
          slot.stopped = false;
        }
        return;
      }
      case 'redis-restart':
        await redis.kill('SIGKILL');
        await sleep(f.durationMs);
        await redis.restart();
        return;
      case 'redis-flushall': {
        const client = new IORedis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.flushall();
        } finally {
          client.disconnect();
        }
        return;
      }
      case 'etcd-restart':
        await Promise.all(cluster.members.map((_, i) => cluster.kill(i)));
        await sleep(f.durationMs);
        await Promise.all(cluster.members.map((_, i) => cluster.restart(i)));
        return;
      case 'etcd-member-loss': {
        const i = f.target === 'raft-leader' ? await cluster.leader().catch(() => 0) : Number(f.target.slice('member-'.length));
        this.resolved.set(f.id, `member-${i}`);
        await cluster.kill(i);
        await sleep(f.durationMs);
        await cluster.restart(i);
        return;
      }
      case 'fleet-latency':
      case 'fleet-errors':
      case 'fleet-drops': {
        const { seed, ...rest } = f.params;
        await h.emulatorFaults({ ...rest, ...(seed !== undefined ? { seed } : {}) });
        await sleep(f.durationMs);
        await h.emulatorFaults(null);
        return;
      }
      case 'fleet-not-ready':
        await emulatorNotReady(h.emulator.url, true);
        await sleep(f.durationMs);
        await emulatorNotReady(h.emulator.url, false);
        return;
    }
  }

  /** Undoes whatever a failed fault may have left: every process running and continued, no emulator fault. */
  async restoreAll(): Promise<void> {
    for (const slot of this.slots) {
      if (slot.proc && slot.stopped) {
        try { signalGroup(slot.proc, 'SIGCONT'); } catch { /* gone */ }
        slot.stopped = false;
      }
      if (!slot.proc || slot.proc.child.exitCode !== null || slot.proc.child.signalCode !== null) this.launch(slot);
    }
    await this.h.emulatorFaults(null).catch(() => undefined);
    await emulatorNotReady(this.h.emulator.url, false).catch(() => undefined);
  }

  /** The first time (wall ms) a process of this command logged `msg` at or after `after`, or null. */
  firstLog(command: 'scheduler' | 'worker', msg: string, after: number): number | null {
    const times = this.h.processes.filter((p) => p.name.startsWith(command)).map((p) => logTime(this.h, p, msg, after)).filter((t): t is number => t !== null);
    return times.length > 0 ? Math.min(...times) : null;
  }

  async stop(): Promise<void> {
    this.closing = true;
    for (const slot of this.slots) {
      slot.expectExit = true;
      if (slot.proc && slot.stopped) {
        try { signalGroup(slot.proc, 'SIGCONT'); } catch { /* gone */ }
      }
    }
    await this.h.stop();
    await this.redis.stop();
  }
}

async function emulatorNotReady(url: string, on: boolean): Promise<void> {
  const res = await fetch(`${url}/emulator/not-ready`, { method: on ? 'POST' : 'DELETE' });
  if (!res.ok) throw new Error(`emulator not-ready: ${res.status}`);
}
