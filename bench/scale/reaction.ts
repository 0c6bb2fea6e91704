import { jobIds, keys } from '@dynamite/domain';
import type { ActionRecord } from '@dynamite/store';
import { startRecordingProxy } from './recording-proxy';
import { ScaleStack, quantile, serviceName, sleep, until } from './stack';

/**
 * Reaction: `services` services armed at once, `rounds` times: every service's scale-up window expires at about
 * the same moment, so the engine decides `services` actions together. Measured per action: period expiry (the
 * action's `dueAt`) to fleet receiving its first PUT (a recording proxy in front of the emulator), and to the
 * action done (its units launched).
 */
export async function reaction(opts: { services: number; rounds: number; concurrency: number }): Promise<Record<string, number>> {
  const periodS = 2;
  const stack = await ScaleStack.start({ services: opts.services, min: 1, max: 1 + opts.rounds, periodS, cooldownS: 1, upThreshold: 90, downThreshold: 10, reconcileS: 30 });
  const proxy = await startRecordingProxy(stack.emulatorUrl);
  stack.fleetUrl = proxy.url;
  try {
    await stack.scheduler();
    await stack.worker(['--concurrency', String(opts.concurrency)]);
    await until(async () => ((await stack.fleet.listUnitStates()).filter((s) => s.systemdActiveState === 'active').length >= opts.services ? true : null), 300_000, 'min instances active', 200);
    const toPut: number[] = [];
    const toLaunched: number[] = [];
    const phases = { timerStart: [] as number[], actionAdded: [] as number[], actionStart: [] as number[] };
    for (let round = 0; round < opts.rounds; round += 1) {
      // The machines report before they breach (a machine seen for the first time starts at its newest sample).
      await Promise.all(Array.from({ length: opts.services }, (_, i) => stack.etcd.put(`/metrics/${serviceName(i)}/r${round}-${i}/cpu_user/${new Date().toISOString()}`).value('50')));
      await until(async () => (Number(await stack.etcd.getAll().prefix(keys.policyPrefix).count()) >= opts.services * 2 * (round + 1) ? true : null), 120_000, 'state machines of the round', 100);
      const since = Date.now();
      // Two breaching samples a machine, half a period apart: every window arms at once and holds enough samples
      // to fire (at least 2, the newest fresh) -- all that a fire needs, and no more load than that.
      for (const delay of [0, (periodS * 1000) / 2]) {
        if (delay > 0) await sleep(delay);
        const at = new Date().toISOString();
        await Promise.all(Array.from({ length: opts.services }, (_, i) => stack.etcd.put(`/metrics/${serviceName(i)}/r${round}-${i}/cpu_user/${at}`).value('99')));
      }
      const actions = await until(async () => {
        const list = (Object.values(await stack.etcd.getAll().prefix(keys.actionsPrefix).json()) as ActionRecord[]).filter((a) => a.createdAt >= since && a.dueAt !== null);
        return list.length >= opts.services && list.every((a) => a.status === 'done') ? list : null;
      }, 300_000, `round ${round}: ${opts.services} scale ups done`, 200);
      // Where each fire's time goes, from the jobs' own timestamps: the timer job taken by a worker, the action job
      // added (the decision committed) and taken.
      const timers = new Map<string, number>();
      for (const id of await stack.redis.zrange(`${stack.prefix}:checks:completed`, '0', '-1')) {
        const [name, data, processedOn] = await stack.redis.hmget(`${stack.prefix}:checks:${id}`, 'name', 'data', 'processedOn');
        if (name !== 'period-expiry' || !data || !processedOn) continue;
        const d = JSON.parse(data) as { service: string; at: number };
        timers.set(`${d.service}@${d.at}`, Number(processedOn));
      }
      for (const a of actions) {
        const timerStart = timers.get(`${a.service}@${a.dueAt}`);
        if (timerStart !== undefined) phases.timerStart.push(timerStart - a.dueAt!);
        const [added, processedOn] = await stack.redis.hmget(`${stack.prefix}:actions:${jobIds.action(a.decisionId)}`, 'timestamp', 'processedOn');
        if (added) phases.actionAdded.push(Number(added) - a.dueAt!);
        if (processedOn) phases.actionStart.push(Number(processedOn) - a.dueAt!);
      }
      for (const a of actions) {
        const put = proxy.firstPut.get(a.instance);
        if (put !== undefined) toPut.push(put - a.dueAt!);
        if (a.finishedAt !== null) toLaunched.push(a.finishedAt - a.dueAt!);
      }
      if (round < opts.rounds - 1) await sleep(1_500); // the 1 s cooldown ends before the next round arms
    }
    for (const list of Object.values(phases)) list.sort((a, b) => a - b);
    toPut.sort((a, b) => a - b);
    toLaunched.sort((a, b) => a - b);
    // The limit beside it, in the same run: etcd committing as many guarded transactions at once as there are fires
    // (each fire commits one; this disk's fsync sets the pace).
    const limit = await Promise.all(Array.from({ length: opts.services }, async (_, i) => {
      const started = Date.now();
      await stack.etcd.if(`/bench-limit/${i}`, 'Mod', '==', 0).then(stack.etcd.put(`/bench-limit/${i}`).value('x')).commit();
      return Date.now() - started;
    }));
    limit.sort((a, b) => a - b);
    return {
      services: opts.services, etcd_concurrent_txn_p50_ms: quantile(limit, 0.5), etcd_concurrent_txn_p90_ms: quantile(limit, 0.9),
      expiries: toPut.length,
      to_put_median_ms: quantile(toPut, 0.5), to_put_p90_ms: quantile(toPut, 0.9), to_put_p99_ms: quantile(toPut, 0.99), to_put_worst_ms: toPut[toPut.length - 1]!,
      // The phases of the path, from the expiry (p50 / p90): timer job taken, action job added, action job taken.
      timer_taken_p50_ms: quantile(phases.timerStart, 0.5), timer_taken_p90_ms: quantile(phases.timerStart, 0.9),
      action_added_p50_ms: quantile(phases.actionAdded, 0.5), action_added_p90_ms: quantile(phases.actionAdded, 0.9),
      action_taken_p50_ms: quantile(phases.actionStart, 0.5), action_taken_p90_ms: quantile(phases.actionStart, 0.9),
      to_launched_median_ms: quantile(toLaunched, 0.5), to_launched_p90_ms: quantile(toLaunched, 0.9), to_launched_p99_ms: quantile(toLaunched, 0.99),
    };
  } finally {
    proxy.close();
    await stack.stop();
  }
}

/** `node dist/bench/scale/reaction.js [services] [rounds] [concurrency]`: the reaction figures alone, as JSON. */
if (require.main === module) {
  const [services = 100, rounds = 2, concurrency = 64] = process.argv.slice(2).map(Number);
  reaction({ services, rounds, concurrency }).then(
    (r) => { process.stdout.write(`${JSON.stringify(r)}\n`); process.exit(0); },
    (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); },
  );
}
