import type { EngineHarness, EngineProcess } from '../support/engine-harness';
import { sleep, waitFor } from '../support/engine-harness';
import { freePort } from '../support/ports';

/** Helpers of the high-availability suites: schedulers with their own operator listener, and who leads. */

export interface LeaderApi {
  leader: { id: string; url: string | null; since: string | null; key: string } | null;
  candidates: { id: string; role: 'leader' | 'standby'; key: string }[];
  self: { id: string; role: 'leader' | 'standby'; since: string | null } | null;
}

export interface Scheduler {
  id: string;
  url: string;
  proc: EngineProcess;
}

/** `dynamite scheduler --scheduler_id ID --leader_ttl TTL --http 127.0.0.1:PORT` as a child of the harness. */
export async function spawnScheduler(h: EngineHarness, id: string, ttlSeconds: number, extra: string[] = []): Promise<Scheduler> {
  const port = await freePort();
  const proc = h.spawn('scheduler', ['--scheduler_id', id, '--leader_ttl', String(ttlSeconds), '--http', `127.0.0.1:${port}`, ...extra]);
  return { id, url: `http://127.0.0.1:${port}`, proc };
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return { status: res.status, body: (await res.json()) as T };
}

/** Waits until the scheduler's own /api/leader says it has this role and it campaigns (its key is in etcd). */
export async function waitRole(h: EngineHarness, s: Scheduler, role: 'leader' | 'standby', timeoutMs: number): Promise<LeaderApi> {
  return waitFor(async () => {
    const { body } = await getJson<LeaderApi>(`${s.url}/api/leader`);
    return body.self?.role === role && body.candidates.some((c) => c.id === s.id && c.role === role) ? body : null;
  }, timeoutMs, `${s.id} is ${role}`, h);
}

/** Polls (every 25 ms) until the scheduler says it leads; returns when (Date.now()). */
export async function whenLeading(h: EngineHarness, s: Scheduler, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { body } = await getJson<LeaderApi>(`${s.url}/api/leader`);
      if (body.self?.role === 'leader') return Date.now();
    } catch {
      // a stopped process does not answer
    }
    if (Date.now() > deadline) throw new Error(`${s.id} did not lead within ${timeoutMs} ms\n${h.logs()}`);
    await sleep(25);
  }
}

/** The time (ms since the epoch) of the first log line of a process with this message at or after `after`. */
export function logTime(h: EngineHarness, proc: EngineProcess, msg: string, after: number): number | null {
  for (const line of h.log(proc).split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; time?: string };
      const at = entry.time ? Date.parse(entry.time) : NaN;
      if (entry.msg === msg && at >= after) return at;
    } catch {
      // not a log line
    }
  }
  return null;
}

/** Sends a signal to a process's whole group (SIGSTOP / SIGCONT). */
export function signal(proc: EngineProcess, sig: NodeJS.Signals): void {
  process.kill(-proc.child.pid!, sig);
}

/**
 * Writes `n` samples that flip a state machine of web_up (99 arms it, 5 disarms it; the period is long, so it never
 * fires): every sample evaluated leaves exactly one `armed` or `disarmed` record, so counting records counts
 * evaluations.
 */
export function flipWriter(h: EngineHarness, uuid: string, n: number, everyMs: number): { done: Promise<number> } {
  const done = (async () => {
    let written = 0;
    for (let i = 0; i < n; i += 1) {
      await h.sample('webserver', uuid, 'cpu_user', i % 2 === 0 ? 99 : 5);
      written += 1;
      await sleep(everyMs);
    }
    return written;
  })();
  return { done };
}

export async function flipRecords(h: EngineHarness, uuid: string): Promise<number> {
  return (await h.decisions('web')).filter((d) => {
    const r = d as unknown as { machine: string; policy: string };
    return r.machine === uuid && r.policy === 'web_up' && (d.outcome === 'armed' || d.outcome === 'disarmed');
  }).length;
}
