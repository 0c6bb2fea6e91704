import type { Command } from 'commander';
import type { DynamiteConfig } from '@dynamite/domain';
import { buildOverview, readLeaderView, type LeaderView, type Overview, type PolicyView, type ServiceView } from '@dynamite/operator';
import { StateStore, createEtcdClient, explainEtcdError, type RecordRejection } from '@dynamite/store';
import { ConfigSource } from '@dynamite/engine';
import { UsageError } from '../errors';
import { addEtcdOption, type CommonOptions } from '../options';
import { addEtcdSecurityOptions, etcdConnection, type EtcdSecurityOptions } from '../daemon-options';

export type EtcdReadFlags = Pick<CommonOptions, 'etcd_endpoint'> & EtcdSecurityOptions & { json?: boolean };

/** How long a CLI read of etcd may take before it is reported as unreachable. */
const ETCD_DEADLINE_MS = 4_000;

/**
 * Opens etcd for a one-shot read; every failure becomes one UsageError line naming the endpoint. Records that fail
 * their schema are left out of the view and named on stderr, one line each.
 */
export async function withEngineStore<T>(flags: EtcdReadFlags, work: (store: StateStore, config: DynamiteConfig) => Promise<T>): Promise<T> {
  return withStore(flags, async (store) => work(store, await readConfig(store, flags.etcd_endpoint)));
}

/** The same without a config: `work` gets the store (`dynamite apply` may find none stored yet). */
export async function withStore<T>(flags: EtcdReadFlags, work: (store: StateStore) => Promise<T>, opts: { deadlineMs?: number } = {}): Promise<T> {
  let store: StateStore;
  const skipped = new Map<string, RecordRejection>();
  try {
    store = new StateStore(
      createEtcdClient({ ...etcdConnection({ ...flags } as CommonOptions & EtcdSecurityOptions), callTimeoutMs: ETCD_DEADLINE_MS }),
      (r) => { skipped.set(r.key, r); },
    );
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // A bad endpoint names the flag; anything else here is a TLS file (--etcd_ca/--etcd_cert/--etcd_key) that cannot be read.
    throw new UsageError(/^etcd endpoint /.test(message) ? `-e/--etcd_endpoint: ${message}` : `cannot set up the etcd client: ${message}`);
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ETCD_DEADLINE_MS} ms`)), opts.deadlineMs ?? ETCD_DEADLINE_MS + 1_000);
    });
    const result = await Promise.race([work(store), deadline]);
    for (const r of skipped.values()) process.stderr.write(`dynamite: warning: skipped ${r.kind} record ${JSON.stringify(r.key)}: ${printable(r.message)}\n`);
    return result;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read from etcd at ${flags.etcd_endpoint}: ${explainEtcdError(err) ?? oneLine(err)}`);
  } finally {
    clearTimeout(timer);
    store.etcd.close();
  }
}

async function readConfig(store: StateStore, endpoint: string): Promise<DynamiteConfig> {
  try {
    return await new ConfigSource(store, { watch: false }).current();
  } catch (err) {
    const message = oneLine(err);
    if (/no configuration in etcd|stored configuration is invalid/.test(message)) throw new UsageError(`etcd at ${endpoint}: ${message}`);
    throw err;
  }
}

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

/** One readable line from a gRPC/etcd error (`14 UNAVAILABLE: No connection established. Last error: ...`). */
function oneLine(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
  const socket = /\b(E[A-Z_]{4,})\b/.exec(text);
  if (socket && SOCKET_ERRORS[socket[1]!]) return SOCKET_ERRORS[socket[1]!]!;
  return text.replace(/^\d+ [A-Z_]+: /, '').replace(/\s*Resolution note:.*$/, '').replace(/\.$/, '');
}

/** Text read from etcd, safe for a terminal: control characters (escape sequences, newlines) become "?". */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** Left-aligned columns separated by two spaces, as `fleetctl list-units` prints them; cells are made printable. */
export function table(header: string[], rawRows: string[][]): string {
  const rows = rawRows.map((r) => r.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `1h2m`, `1m30s`, `12s`, `850ms`: how long until something happens. */
export function formatRemaining(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${h}h${m > 0 ? `${m}m` : ''}`;
  if (m > 0) return `${m}m${s > 0 ? `${s}s` : ''}`;
  return `${s}s`;
}

function policyState(p: PolicyView): string {
  const parts: string[] = [];
  if (p.cooldown) parts.push(`cooldown, ${formatRemaining(p.cooldown.remainingMs)} left (until ${p.cooldown.until})`);
  for (const a of p.armed) {
    parts.push(`armed${p.aggregated ? '' : ` on ${a.machine}`}, fires in ${formatRemaining(a.remainingMs)} (${a.samples} sample${a.samples === 1 ? '' : 's'}, newest ${a.newestValue})`);
  }
  return parts.length > 0 ? parts.join('; ') : 'idle';
}

/** What operators set for a service, one line each: a pause, protected instances, its own dry run. */
function controlLines(s: ServiceView, engineDryRun: boolean): string[] {
  const lines: string[] = [];
  const p = s.paused;
  if (p) {
    const what = p.directions.length === 2 ? 'up and down' : p.directions[0];
    const until = p.until === null ? 'until resumed' : p.active ? `until ${p.until} (${formatRemaining(p.remainingMs ?? 0)} left)` : `ended at ${p.until}`;
    lines.push(`${s.name}: ${p.active ? 'paused' : 'pause over'} (scaling ${what}) ${until}${p.by ? `, by ${p.by}` : ''}: ${JSON.stringify(p.reason)}`);
  }
  for (const i of s.protected) lines.push(`${s.name}: ${i.instance} protected from scale-in${i.by ? ` by ${i.by}` : ''}${i.reason ? `: ${JSON.stringify(i.reason)}` : ''}`);
  if (s.dryRunSource === 'service' && !engineDryRun) lines.push(`${s.name}: dry run (dry_run: true in its config): decisions are recorded, nothing reaches fleet`);
  return lines;
}

function bounds(s: ServiceView): string {
  return s.min === null || s.max === null ? '-' : `${s.min}/${s.max}`;
}

/** `scheduler: a leads since ... (http://...); standby: b`, or that none runs. */
export function renderLeader(view: LeaderView): string {
  if (!view.leader) return 'scheduler: none running (no scheduler holds the leader election)';
  const standbys = view.candidates.filter((c) => c.role === 'standby').map((c) => c.id);
  const since = view.leader.since ? ` since ${view.leader.since}` : ' (taking over)';
  const url = view.leader.url ? ` (${view.leader.url})` : '';
  return `scheduler: ${view.leader.id} leads${since}${url}; standby: ${standbys.length > 0 ? standbys.join(', ') : 'none'}`;
}

export function renderStatus(overview: Overview, leader?: LeaderView): string {
  const instanceRows: string[][] = [];
  for (const s of overview.services) {
    const unfinished = new Map(s.actions.map((a) => [a.instance, a]));
    if (s.instances.length === 0) instanceRows.push([s.name, '-', '-', bounds(s), s.configured ? '' : 'not in the config']);
    for (const i of s.instances) {
      const action = unfinished.get(i.name);
      const notes = [
        i.attached.length > 0 ? `with ${i.attached.map((a) => a.name).join(', ')}` : '',
        action ? `${action.kind} ${action.status}${action.error ? `: ${action.error}` : ''}` : '',
        i.origin !== 'decision' ? i.origin : '',
        i.protected ? 'protected' : '',
      ].filter((n) => n !== '');
      instanceRows.push([s.name, i.name, i.state, bounds(s), notes.join('; ')]);
    }
  }
  const policyRows: string[][] = [];
  for (const s of overview.services) {
    for (const p of s.policies) policyRows.push([s.name, p.name, p.direction, p.rule, policyState(p)]);
  }
  const out = [table(['SERVICE', 'INSTANCE', 'STATE', 'MIN/MAX', 'NOTE'], instanceRows)];
  out.push('', policyRows.length > 0 ? table(['SERVICE', 'POLICY', 'DIR', 'RULE', 'STATE'], policyRows) : 'no scaling policies');
  const controls = overview.services.flatMap((s) => controlLines(s, overview.dryRun));
  if (controls.length > 0) out.push('', ...controls.map(printable));
  const summary = overview.services.map((s) => `${s.name} ${s.desired}${s.max !== null ? `/${s.max}` : ''}`).join(', ');
  const mode = overview.dryRun ? ' (dry run: decisions are recorded, nothing reaches fleet)' : '';
  out.push('', printable(`engine: ${overview.applicationStatus ?? 'not started'}${mode}; instances: ${summary || 'none'}`));
  if (leader) out.push(printable(renderLeader(leader)));
  return `${out.join('\n')}\n`;
}

/**
 * `dynamite status [-e ETCD] [--json]`: every service, its instances and their states, min/max, and what each
 * policy is doing, read from etcd alone (no fleet, no Redis).
 */
export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description('services, instances, bounds and policy states, and which scheduler leads, read from etcd (like fleetctl list-units)')
    .option('--json', 'print JSON instead of tables');
  addEtcdSecurityOptions(addEtcdOption(cmd));
  cmd.action(async (flags: EtcdReadFlags) => {
    const { overview, leader } = await withEngineStore(flags, async (store, config) => ({
      overview: await buildOverview(store, config, { now: Date.now(), decisions: 0, fleet: null }),
      leader: await readLeaderView(store.etcd, null),
    }));
    process.stdout.write(flags.json ? `${JSON.stringify({ ...overview, leader: leader.leader, schedulers: leader.candidates }, null, 2)}\n` : renderStatus(overview, leader));
  });
}
