import { keys } from '@dynamite/domain';
import { sweepLeftovers } from './children';
import type { DemoRun } from './demo-run';
import { deleteRedisPrefix } from './infra';
import type { LoadStats } from './load-generator';

/** What the summary needs from the moment the shutdown began, and what the shutdown itself ran into. */
export interface ShutdownReport {
  /** The traffic's counters and the launched instances when the shutdown began (null, 0: never started). */
  load: LoadStats | null;
  instancesAtEnd: number;
  /** Whether the demo had started any process. */
  startedAny: boolean;
  /** Unit processes that outlived the emulator (stopped here). */
  swept: number;
  problems: string[];
  startedAt: number;
}

/**
 * Stops everything the run started, in order: traffic, watches, engine, emulator (and the units it runs),
 * leftover unit processes, the demo's keys in etcd and Redis, private servers. Never throws: what goes wrong is
 * collected in `problems`.
 */
export async function shutDown(run: DemoRun): Promise<ShutdownReport> {
  const { out } = run.settings;
  const { children } = run;
  run.screen.clearBlock(true);
  if (run.trafficS === 0 && run.trafficStarted > 0) run.trafficS = (performance.now() - run.trafficStarted) / 1000;
  const report: ShutdownReport = {
    load: run.load?.snapshot() ?? null,
    instancesAtEnd: run.observer?.launchedCount() ?? 0,
    startedAny: children.all.length > 0,
    swept: 0,
    problems: [],
    startedAt: Date.now(),
  };
  if (report.startedAny) out.write('stopping: traffic, engine, fleet emulator and its units, demo keys, private servers...\n');
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      report.problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  await attempt('traffic', async () => run.load?.stop());
  await attempt('watches', async () => run.observer?.stop());
  await Promise.all(run.engine.map((c) => children.stop(c, 8000)));
  if (run.emulator) await children.stop(run.emulator, 10_000);
  if (run.rendered) report.swept = await sweepLeftovers(run.rendered.runtimeFile);
  const { etcd, etcdChoice, redisChoice } = run;
  if (etcd && etcdChoice && etcdChoice.child === null) {
    await attempt('etcd cleanup', async () => {
      await etcd.delete().prefix(`${run.keyRoot}/`).exec();
      // The engine's root holds only this demo's state (it was empty at start), unless someone else took it since.
      const stored = await etcd.get(keys.applicationConfiguration).string();
      if (stored === null || stored.includes(run.keyRoot)) await etcd.delete().prefix(keys.root).exec();
    });
  }
  etcd?.close();
  if (redisChoice && redisChoice.child === null) {
    await attempt('redis cleanup', () => deleteRedisPrefix(redisChoice.url, run.queuePrefix));
  }
  for (const c of children.all) await children.stop(c, 5000);
  return report;
}

/** The line after the shutdown: how long it took and what went wrong. */
export function printShutdown(run: DemoRun, report: ShutdownReport): void {
  if (!report.startedAny && report.problems.length === 0) return;
  const stopS = (Date.now() - report.startedAt) / 1000;
  const { swept, problems } = report;
  run.settings.out.write(`stopped in ${stopS.toFixed(1)} s${swept > 0 ? ` (${swept} unit processes outlived the emulator and were stopped)` : ''}` +
    `${problems.length ? `; problems: ${problems.join('; ')}` : ''}\n\n`);
}
