import { receiptsKey } from '@dynamite/queues';
import { procUsage, quantile, redisInfo, scrape, serviceName, sleep, until, type ScaleStack } from './stack';
import { writePaced, writeUnpaced, type Machine } from './writers';

/**
 * Each sample feeds two state machines (its service's up and down policies), and each counts it in
 * `dynamite_samples_ingested_total{policy}`: samples evaluated are the count of the scale-up policies alone.
 */
const SCALE_UP_POLICIES = /policy="[^"]*_up"/;

/** Engine CPU (cores) and RSS while `work` runs, sampled from /proc. */
export async function measureProcesses<T>(pids: Record<string, number>, work: () => Promise<T>, everyMs = 5_000): Promise<{ value: T; cores: Record<string, number>; rssMb: Record<string, number[]> }> {
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, procUsage(pid)?.cpuS ?? 0]));
  const rssMb: Record<string, number[]> = Object.fromEntries(Object.keys(pids).map((k) => [k, []]));
  const t0 = Date.now();
  let running = true;
  const sampler = (async () => {
    while (running) {
      for (const [k, pid] of Object.entries(pids)) rssMb[k]!.push(procUsage(pid)?.rssMb ?? NaN);
      await sleep(everyMs);
    }
  })();
  const value = await work();
  running = false;
  await sampler;
  const wall = (Date.now() - t0) / 1000;
  const cores = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, ((procUsage(pid)?.cpuS ?? 0) - start[k]!) / wall]));
  return { value, cores, rssMb };
}

export function machinesOf(services: number, perService: number): Machine[] {
  const out: Machine[] = [];
  for (let i = 0; i < services; i += 1) for (let j = 0; j < perService; j += 1) out.push({ serviceType: serviceName(i), uuid: `m${i}-${j}` });
  return out;
}

/** Receipt lag (scheduler receipt - write) of traced samples, read from the scheduler's receipt set in Redis. */
export async function receiptLags(stack: ScaleStack, traced: { revision: string; at: number }[]): Promise<number[]> {
  const lags: number[] = [];
  for (let i = 0; i < traced.length; i += 500) {
    const batch = traced.slice(i, i + 500);
    const scores = await stack.redis.zmscore(receiptsKey(stack.prefix), ...batch.map((t) => t.revision));
    scores.forEach((s, j) => { if (s !== null) lags.push(Number(s) - batch[j]!.at); });
  }
  return lags.sort((a, b) => a - b);
}

export interface IngestionResult {
  raw_puts_per_s: number;
  offered_per_s: number;
  evaluated_in_window_per_s: number;
  evaluated_per_s: number;
  ratio_to_raw: number;
  drained_s: number;
}

/**
 * One sample from every machine, until each has its state machines in etcd: a machine seen for the first time
 * starts at its newest sample (older ones predate the engine), so counts are exact only for known machines.
 */
export async function warmUp(stack: ScaleStack, machines: Machine[]): Promise<void> {
  for (let i = 0; i < machines.length; i += 200) {
    await Promise.all(machines.slice(i, i + 200).map((m) => stack.etcd.put(`/metrics/${m.serviceType}/${m.uuid}/cpu_user/${new Date().toISOString()}`).value('50')));
  }
  await until(async () => Number(await stack.etcd.getAll().prefix('/_dynamite/policy/').count()) >= machines.length * 2, 300_000, 'a state machine for every machine and policy', 200);
}

/** Ingestion: the writers' raw rate into an unwatched prefix, then into the watched one while the engine evaluates. */
export async function ingestion(stack: ScaleStack, machines: Machine[], workerMetrics: string[], seconds: number): Promise<IngestionResult> {
  const raw = await writeUnpaced(stack.etcd, machines, { durationMs: seconds * 1000, inFlight: 32, value: () => 50, base: '/bench-raw' });
  const rawRate = raw.written / (raw.ms / 1000);
  await stack.etcd.delete().prefix('/bench-raw/').exec();
  const ingested = async () => (await Promise.all(workerMetrics.map((u) => scrape(u, 'dynamite_samples_ingested_total', SCALE_UP_POLICIES)))).reduce((a, b) => a + b, 0);
  const before = await ingested();
  const offered = await writeUnpaced(stack.etcd, machines, { durationMs: seconds * 1000, inFlight: 32, value: () => 50 });
  const duringWindow = (await ingested()) - before;
  const stoppedAt = Date.now();
  // Up to two minutes to catch up; a backlog still there then is reported, not waited for.
  await until(async () => (await ingested()) - before >= offered.written, 120_000, 'every offered sample evaluated', 100).catch(() => undefined);
  const drained = (Date.now() - stoppedAt) / 1000;
  const evaluatedAll = (await ingested()) - before;
  // Samples evaluated per second: all the offered samples over the time from the first write to the last evaluation.
  const evaluatedRate = evaluatedAll / (offered.ms / 1000 + drained);
  return {
    raw_puts_per_s: Math.round(rawRate),
    offered_per_s: Math.round(offered.written / (offered.ms / 1000)),
    evaluated_in_window_per_s: Math.round(duringWindow / (offered.ms / 1000)),
    evaluated_per_s: Math.round(evaluatedRate),
    ratio_to_raw: Number((evaluatedRate / rawRate).toFixed(2)),
    drained_s: Number(drained.toFixed(1)),
  };
}

export interface SteadyResult {
  samples_per_s: number;
  written: number;
  evaluated: number;
  drained_s: number;
  lag_p50_ms: number;
  lag_p99_ms: number;
  engine_cores: number;
  etcd_cores: number;
  redis_cores: number;
  emulator_cores: number;
  rss_mb_first_half: number;
  rss_mb_second_half: number;
  redis_used_mb_start: number;
  redis_used_mb_mid: number;
  redis_used_mb_end: number;
  etcd_keys_mid: number;
  etcd_keys_end: number;
  etcd_writes_per_sample: number;
  redis_commands_per_sample: number;
}

/** Steady state: every machine writes one sample every `everyMs` for `seconds` (the stack has a Redis of its own). */
export async function steady(stack: ScaleStack, machines: Machine[], pids: Record<string, number>, workerMetrics: string[], seconds: number, everyMs = 5_000): Promise<SteadyResult> {
  const ingested = async () => (await Promise.all(workerMetrics.map((u) => scrape(u, 'dynamite_samples_ingested_total', SCALE_UP_POLICIES)))).reduce((a, b) => a + b, 0);
  const keys = async () => Number(await stack.etcd.getAll().prefix('/').count());
  const before = await ingested();
  const revisionBefore = Number((await stack.etcd.get('/').exec()).header.revision);
  const redisStart = await redisInfo(stack);
  let mid: { redis: number; keys: number } = { redis: NaN, keys: NaN };
  const half = setTimeout(() => { void Promise.all([redisInfo(stack), keys()]).then(([r, k]) => { mid = { redis: r.usedMb, keys: k }; }); }, (seconds * 1000) / 2);
  // RSS sampled at least 4 times a run (a quick run of a few seconds has a first and a second half too).
  const measured = await measureProcesses(pids, () => writePaced(stack.etcd, machines, { everyMs, durationMs: seconds * 1000, value: () => 50, traceEvery: 10 }), Math.min(5_000, seconds * 250));
  clearTimeout(half);
  const log = measured.value;
  const stoppedAt = Date.now();
  // Up to two minutes to catch up; a backlog still there then is reported (evaluated < written), not waited for.
  await until(async () => (await ingested()) - before >= log.written, 120_000, 'every sample evaluated', 200).catch(() => undefined);
  const drainedS = Number(((Date.now() - stoppedAt) / 1000).toFixed(1));
  const evaluated = (await ingested()) - before;
  const redisEnd = await redisInfo(stack);
  const revisionAfter = Number((await stack.etcd.get('/').exec()).header.revision);
  const lags = await receiptLags(stack, log.traced);
  const engineCores = Object.entries(measured.cores).filter(([k]) => k.startsWith('scheduler') || k.startsWith('worker')).reduce((a, [, v]) => a + v, 0);
  const engineRss = (idx: 'first' | 'second') => Object.entries(measured.rssMb)
    .filter(([k]) => k.startsWith('scheduler') || k.startsWith('worker'))
    .reduce((sum, [, values]) => {
      const h = values.slice(idx === 'first' ? 0 : Math.floor(values.length / 2), idx === 'first' ? Math.floor(values.length / 2) : values.length);
      return sum + h.reduce((a, b) => a + b, 0) / Math.max(1, h.length);
    }, 0);
  // etcd revisions moved by anything but the samples themselves are the engine's writes (plus GC deletes).
  const engineWrites = revisionAfter - revisionBefore - log.written;
  return {
    samples_per_s: Math.round(log.written / seconds),
    written: log.written,
    evaluated,
    drained_s: drainedS,
    lag_p50_ms: quantile(lags, 0.5),
    lag_p99_ms: quantile(lags, 0.99),
    engine_cores: Number(engineCores.toFixed(3)),
    etcd_cores: Number((measured.cores['etcd'] ?? NaN).toFixed(3)),
    redis_cores: Number((measured.cores['redis'] ?? NaN).toFixed(3)),
    emulator_cores: Number((measured.cores['emulator'] ?? NaN).toFixed(3)),
    rss_mb_first_half: Math.round(engineRss('first')),
    rss_mb_second_half: Math.round(engineRss('second')),
    redis_used_mb_start: Number(redisStart.usedMb.toFixed(1)),
    redis_used_mb_mid: Number(mid.redis.toFixed(1)),
    redis_used_mb_end: Number(redisEnd.usedMb.toFixed(1)),
    etcd_keys_mid: mid.keys,
    etcd_keys_end: await keys(),
    etcd_writes_per_sample: Number((engineWrites / log.written).toFixed(2)),
    redis_commands_per_sample: Number(((redisEnd.commands - redisStart.commands) / log.written).toFixed(1)),
  };
}

