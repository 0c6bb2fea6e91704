import { Etcd3 } from 'etcd3';
import { CHECKS_QUEUE } from '@dynamite/domain';
import { sleep } from '../support/engine-harness';
import { InvariantChecker, type Violation } from './invariants';
import { CHAOS_SERVICES, LoadWriter, type LoadStats } from './load';
import { describeFault, DOMAIN_GAP_MS, domainOf, faultSchedule, FAULT_KINDS, type Fault } from './schedule';
import { ChaosWorld, type Crash } from './world';

export interface ChaosOptions {
  seed: number;
  seconds: number;
  /** The schedulers' --leader_ttl (default 3). */
  ttlSeconds?: number;
  /** Progress lines (the schedule, each fault, the settling). */
  say?: (line: string) => void;
}

export interface Failover {
  faultId: number;
  kind: string;
  slot: string;
  /** From the kill (or SIGSTOP) of the leader to a scheduler logging `elected scheduler leader`; null: none was. */
  electedMs: number | null;
  /** ... to the new leader logging `leading: watching samples` (its rebuild done, turning samples into jobs). */
  watchingMs: number | null;
  /** Other faults under way during the failover (an etcd fault delays it: a new raft leader renews every lease). */
  during: string[];
}

export interface ChaosReport {
  seed: number;
  seconds: number;
  ttlSeconds: number;
  startedAt: string;
  wallSeconds: number;
  /** The schedule, with what each fault resolved its target to and when it really ran (ms after the faults started). */
  schedule: (Fault & { resolved?: string; error?: string; ranMs?: [number, number] })[];
  faults: Record<string, number>;
  checks: Record<string, number>;
  violations: Violation[];
  failovers: Failover[];
  actions: Record<string, Record<string, number>>;
  decisions: Record<string, number>;
  failedActions: { service: string; decisionId: string; kind: string; instance: string; error: string | null }[];
  crashes: Crash[];
  load: LoadStats & { samplesSeen: number; sampleRewrites: number };
  rejectedSamples: Record<string, number>;
  /** The engine processes' logs, kept when there were violations. */
  logsDir: string | null;
}

/**
 * One chaos run: starts the world, waits for every service's min_instance, writes the swinging load, injects the
 * seeded faults, then stops faulting and settles, checking the invariants throughout (InvariantChecker).
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const say = opts.say ?? (() => undefined);
  const ttlSeconds = opts.ttlSeconds ?? 3;
  const started = Date.now();
  const schedule: ChaosReport['schedule'] = faultSchedule(opts.seed, opts.seconds);
  say(`chaos: seed ${opts.seed}, ${opts.seconds} s of faults, ${schedule.length} faults:`);
  for (const f of schedule) say(`  ${describeFault(f)}`);

  const world = await ChaosWorld.start({ ttlSeconds, say });
  const { h } = world;
  const checker = new InvariantChecker(h.etcd, h.emulator.url, () => world.t0);
  // The load's own client, with deadlines: a put stuck on a dead member must not stop its series for good.
  const writer = new Etcd3({ hosts: world.cluster.hosts, dialTimeout: 2_000, defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + 3_000 }) });
  let load: LoadWriter | null = null;
  let keepLogs = false;
  try {
    await checker.start(await h.put('/chaos/started', new Date().toISOString()));
    world.t0 = Date.now();
    world.startEngine();
    say('chaos: engine started; waiting for every service at min_instance');
    const upBy = Date.now() + 90_000;
    while (!CHAOS_SERVICES.every((s) => checker.launched(s.name).length >= s.min)) {
      if (Date.now() > upBy) throw new Error(`services not at min_instance after 90 s:\n${h.logs(20)}`);
      await sleep(200);
    }
    say(`chaos: every service at min_instance after ${((Date.now() - world.t0) / 1000).toFixed(1)} s; load and faults start`);

    load = new LoadWriter(writer, opts.seed, (service) => checker.launched(service));
    load.start();
    world.t0 = Date.now();
    const end = world.t0 + opts.seconds * 1000;
    // Faults of one domain one after the other, even when undoing one takes longer than planned (an etcd member
    // slow to rejoin): the schedule keeps its order and never overlaps two faults of a domain.
    const lanes = new Map<string, Promise<void>>();
    const running = schedule.map((f) => {
      const domain = domainOf(f.kind, f.target);
      const lane = (lanes.get(domain) ?? Promise.resolve()).then(() => injectAt(f)).then(async () => { await sleep(DOMAIN_GAP_MS); });
      lanes.set(domain, lane);
      return lane;
    });
    async function injectAt(f: (typeof schedule)[number]): Promise<void> {
      await sleep(Math.max(0, world.t0 + f.atMs - Date.now()));
      const since = (at: number) => `+${((at - world.t0) / 1000).toFixed(1)} s`;
      const startedAt = Date.now();
      try {
        await world.inject(f);
        f.ranMs = [startedAt - world.t0, Date.now() - world.t0];
        f.resolved = world.resolved.get(f.id);
        say(`  ${describeFault({ ...f, target: f.resolved ?? f.target })}  (from ${since(startedAt)} to ${since(Date.now())})`);
      } catch (err) {
        f.error = String(err);
        say(`  fault #${f.id} ${f.kind} failed: ${String(err)}`);
      }
    }
    let reported = 0;
    while (Date.now() < end) {
      await sleep(Math.min(1_000, end - Date.now()));
      for (const v of checker.violations.slice(reported)) say(`  VIOLATION +${(v.atMs / 1000).toFixed(1)} s [${v.check}] ${v.detail}`);
      reported = checker.violations.length;
    }
    await Promise.all(running);

    say('chaos: faults over; settling');
    await world.restoreAll();
    await load.stop();
    await settle(world, checker);
    const { failedActions } = await checker.checkSettled();
    for (const v of checker.violations.slice(reported)) say(`  VIOLATION +${(v.atMs / 1000).toFixed(1)} s [${v.check}] ${v.detail}`);
    for (const f of schedule) if (f.error) checker.violations.push({ atMs: f.atMs, check: 'fault', detail: `fault #${f.id} ${f.kind} could not be injected or undone: ${f.error}` });
    keepLogs = checker.violations.length > 0;

    const failovers = world.leaderFaults.map((lf): Failover => {
      const fault = schedule.find((f) => f.id === lf.faultId)!;
      const elected = world.firstLog('scheduler', 'elected scheduler leader', lf.at);
      // A stopped leader continued before its lease ran out keeps leading: an election after that is another story.
      const tookOver = elected !== null && elected - lf.at < 30_000 && (lf.kind === 'kill-scheduler' || elected <= lf.at + fault.durationMs + 1_000);
      const watching = tookOver ? world.firstLog('scheduler', 'leading: watching samples', elected!) : null;
      const from = lf.at - world.t0;
      const to = from + (watching ?? elected ?? lf.at) - lf.at;
      const during = schedule.filter((f) => f.id !== lf.faultId && f.ranMs && f.ranMs[0] <= to && f.ranMs[1] >= from).map((f) => `#${f.id} ${f.kind}`);
      return { faultId: lf.faultId, kind: lf.kind, slot: lf.slot, electedMs: tookOver ? elected! - lf.at : null, watchingMs: watching === null ? null : watching - lf.at, during };
    });
    const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, schedule.filter((f) => f.kind === k && !f.error).length]));
    return {
      seed: opts.seed,
      seconds: opts.seconds,
      ttlSeconds,
      startedAt: new Date(started).toISOString(),
      wallSeconds: Math.round((Date.now() - started) / 1000),
      schedule,
      faults,
      checks: { ...checker.checks },
      violations: checker.violations,
      failovers,
      actions: checker.actionSummary(),
      decisions: checker.decisionSummary(),
      failedActions: failedActions.map((a) => ({ service: a.service, decisionId: a.decisionId, kind: a.kind, instance: a.instance, error: a.error })),
      crashes: world.crashes,
      load: { ...load.stats, samplesSeen: checker.samplesSeen, sampleRewrites: checker.sampleRewrites },
      rejectedSamples: checker.rejectedSamples(),
      logsDir: keepLogs ? h.dir : null,
    };
  } catch (err) {
    keepLogs = true;
    throw err;
  } finally {
    await load?.stop();
    writer.close();
    await checker.stop();
    if (keepLogs) process.env.DYNAMITE_KEEP_TEST_DIRS = '1';
    await world.stop();
  }
}

/**
 * Waits until the engine is done with everything the faults left: no action pending, the checks queue empty (no
 * check, no armed window, no cooldown end), and nothing changed in etcd's instances or fleet's units for 5 s.
 */
async function settle(world: ChaosWorld, checker: InvariantChecker, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await checker.catchUp().catch(() => undefined);
    const counts = await world.h.queue(CHECKS_QUEUE).getJobCounts('waiting', 'active', 'prioritized', 'delayed').catch(() => ({ busy: 1 }));
    const idle = Object.values(counts).every((n) => n === 0);
    if (idle && checker.pendingActions().length === 0 && Date.now() - checker.lastChangeAt > 5_000) return;
    if (Date.now() > deadline) return; // the settled checks say what is left
    await sleep(250);
  }
}
