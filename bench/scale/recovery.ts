import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { CHECKS_QUEUE, jobIds, keys } from '@dynamite/domain';
import type { ActionRecord, StoredMachine } from '@dynamite/store';
import { until, type ScaleStack } from './stack';
import type { Machine } from './writers';

/** Scheduler restart: from the new process's start to the first sample written after it evaluated. */
export async function restartToFirstEvaluation(stack: ScaleStack, machine: Machine, restart: () => Promise<void>): Promise<number> {
  const started = Date.now();
  const restarting = restart();
  const key = `/metrics/${machine.serviceType}/${machine.uuid}/cpu_user/${new Date().toISOString()}`;
  const revision = BigInt((await stack.etcd.put(key).value('50').exec()).header.revision);
  const machineKey = keys.machine(machine.serviceType, `${machine.serviceType}_up`, machine.uuid);
  await until(async () => {
    const stored = (await stack.etcd.get(machineKey).json()) as StoredMachine | null;
    return stored?.cursor && BigInt(stored.cursor) >= revision ? true : null;
  }, 300_000, 'the sample written at restart evaluated', 50);
  await restarting;
  return Date.now() - started;
}

/** FLUSHALL with `armed` machines armed: the time until every armed timer has its delayed job again. */
export async function flushallToTimersBack(stack: ScaleStack, armed: Machine[]): Promise<{ ms: number; timers: number }> {
  for (let i = 0; i < armed.length; i += 200) {
    await Promise.all(armed.slice(i, i + 200).map((m) => stack.etcd.put(`/metrics/${m.serviceType}/${m.uuid}/cpu_user/${new Date().toISOString()}`).value('99')));
  }
  const machineKey = (m: Machine) => keys.machine(m.serviceType, `${m.serviceType}_up`, m.uuid);
  const timers = await until(async () => {
    const stored = await Promise.all(armed.map(async (m) => (await stack.etcd.get(machineKey(m)).json()) as StoredMachine | null));
    return stored.every((s) => s?.state.armed) ? stored.map((s, i) => ({ m: armed[i]!, timerId: s!.state.armed!.timerId })) : null;
  }, 120_000, `${armed.length} machines armed`, 200);
  const connection = new IORedis(stack.redisServer.url, { maxRetriesPerRequest: null });
  const checks = new Queue(CHECKS_QUEUE, { connection, prefix: stack.prefix });
  try {
    await stack.redis.flushall();
    const wiped = Date.now();
    await until(async () => {
      const jobs = await Promise.all(timers.map((t) => checks.getJob(jobIds.timer({ service: t.m.serviceType, policy: `${t.m.serviceType}_up`, machine: t.m.uuid }, t.timerId))));
      return jobs.every((j) => j) ? true : null;
    }, 120_000, 'every armed timer back in Redis', 50);
    const ms = Date.now() - wiped;
    // Disarm again, so nothing fires.
    await Promise.all(armed.map((m) => stack.etcd.put(`/metrics/${m.serviceType}/${m.uuid}/cpu_user/${new Date(Date.now() + 1).toISOString()}`).value('50')));
    return { ms, timers: timers.length };
  } finally {
    await checks.close();
    connection.disconnect();
  }
}

/**
 * A worker SIGKILLed while it carries out actions (fleet slowed by a latency fault, so they are mid-flight): the
 * time from the kill until every one of them is done, taken over by another worker once its lock expired.
 */
export async function workerKillToActionsDone(stack: ScaleStack, opts: { startActions: () => Promise<void>; victim: { proc: import('./stack').Proc }; count: number }): Promise<number> {
  const fault = (body: unknown) => fetch(`${stack.emulatorUrl}/emulator/faults`, body === null ? { method: 'DELETE' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const since = Date.now();
  await fault({ latencyMs: 1500, methods: ['PUT'] });
  try {
    await opts.startActions();
    const list = async () => (Object.values(await stack.etcd.getAll().prefix(keys.actionsPrefix).json()) as ActionRecord[]).filter((a) => a.createdAt >= since);
    await until(async () => ((await list()).length >= opts.count ? true : null), 120_000, `${opts.count} actions decided`, 100);
    await new Promise((r) => setTimeout(r, 500)); // let the victim take some of them
  } finally {
    await fault(null);
  }
  const killed = Date.now();
  await stack.stopProcess(opts.victim.proc, 'SIGKILL');
  await until(async () => {
    const mine = (Object.values(await stack.etcd.getAll().prefix(keys.actionsPrefix).json()) as ActionRecord[]).filter((a) => a.createdAt >= since);
    return mine.length >= opts.count && mine.every((a) => a.status === 'done') ? true : null;
  }, 300_000, 'every action done after the kill', 100);
  return Date.now() - killed;
}
