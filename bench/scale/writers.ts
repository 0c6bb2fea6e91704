import type { Etcd3 } from 'etcd3';

/**
 * Sample producers as the original's agents write them: one key per sample,
 * `/metrics/<service_type>/<uuid>/<metric>/<ISO timestamp>`. A paced writer sends each machine's sample every
 * `everyMs`, spread evenly; an unpaced one keeps `inFlight` puts outstanding as fast as etcd takes them.
 */
export interface Machine {
  serviceType: string;
  uuid: string;
}

export interface WriteLog {
  written: number;
  failed: number;
  /** (revision, time written) of every `traceEvery`-th sample, to date its receipt by the scheduler. */
  traced: { revision: string; at: number }[];
}

const lastAt = new WeakMap<Machine, number>();

/** A new key for the machine, its timestamp strictly after the machine's previous one (keys never collide). */
function keyOf(m: Machine, now: number, base: string): string {
  const at = Math.max(now, (lastAt.get(m) ?? 0) + 1);
  lastAt.set(m, at);
  return `${base}/${m.serviceType}/${m.uuid}/cpu_user/${new Date(at).toISOString()}`;
}

export async function writePaced(etcd: Etcd3, machines: Machine[], opts: { everyMs: number; durationMs: number; value: () => number; traceEvery?: number; base?: string }): Promise<WriteLog> {
  const log: WriteLog = { written: 0, failed: 0, traced: [] };
  const base = opts.base ?? '/metrics';
  const started = Date.now();
  const perTick = 10;
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  // Machine k writes at started + k * everyMs / n + j * everyMs.
  const n = machines.length;
  let next = 0;
  while (Date.now() - started < opts.durationMs) {
    const elapsed = Date.now() - started;
    const due = Math.floor((elapsed / opts.everyMs) * n);
    while (next <= due && Date.now() - started < opts.durationMs) {
      const m = machines[next % n]!;
      const s = (seq += 1);
      const at = Date.now();
      const p = etcd.put(keyOf(m, at, base)).value(String(opts.value())).exec()
        .then((res) => {
          log.written += 1;
          if (opts.traceEvery && s % opts.traceEvery === 0) log.traced.push({ revision: String(res.header.revision), at });
        }, () => { log.failed += 1; })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      next += 1;
    }
    await new Promise((r) => setTimeout(r, perTick));
  }
  await Promise.all(inFlight);
  return log;
}

export async function writeUnpaced(etcd: Etcd3, machines: Machine[], opts: { durationMs: number; inFlight: number; value: () => number; base?: string; traceEvery?: number }): Promise<WriteLog & { ms: number }> {
  const log: WriteLog = { written: 0, failed: 0, traced: [] };
  const base = opts.base ?? '/metrics';
  const started = Date.now();
  let seq = 0;
  const lane = async () => {
    while (Date.now() - started < opts.durationMs) {
      const s = (seq += 1);
      const m = machines[s % machines.length]!;
      const at = Date.now();
      try {
        const res = await etcd.put(keyOf(m, at, base)).value(String(opts.value())).exec();
        log.written += 1;
        if (opts.traceEvery && s % opts.traceEvery === 0) log.traced.push({ revision: String(res.header.revision), at });
      } catch {
        log.failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight }, lane));
  return { ...log, ms: Date.now() - started };
}
