import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Etcd3, Lease } from 'etcd3';
import { keys } from '@dynamite/domain';
import { createWatch, type WriteFence } from '@dynamite/store';
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';

/**
 * Leader election of schedulers, the way etcd's own clients do it (`etcdctl elect /_dynamite/scheduler/leader`
 * shows it): each scheduler puts a key `/_dynamite/scheduler/leader/<lease id in hex>` on a lease of a few seconds;
 * the key with the lowest create revision leads; the others watch the key just before theirs and lead when it is
 * deleted (its lease ran out or was revoked). The leader's writes are fenced on its key (WriteFence), and it stops
 * leading as soon as its lease may have run out by its own monotonic clock, before etcd deletes the key.
 */

export const ELECTION_PREFIX = `${keys.schedulerElection}/`;

/** What a candidate announces in its election key. */
export interface LeaderInfo {
  id: string;
  /** Its operator listener (board, API), or null when it has none. */
  url: string | null;
  /** When it became leader (ms since the epoch); null while it is a candidate. */
  since: number | null;
  /** Where it runs (to tell a restart of the same scheduler from a live namesake). */
  host: string | null;
  pid: number | null;
}

/** The current leader as etcd says it: the election key with the lowest create revision. */
export interface ElectedLeader extends LeaderInfo {
  key: string;
  createRevision: string;
}

export type SchedulerRole = 'leader' | 'standby';

export interface LeadershipStatus {
  id: string;
  role: SchedulerRole;
  /** When this scheduler became leader; null on a standby. */
  since: number | null;
  ttlSeconds: number;
}

function parseInfo(text: string, key: string): LeaderInfo {
  try {
    const v = JSON.parse(text) as Partial<LeaderInfo>;
    return {
      id: typeof v.id === 'string' ? v.id : key,
      url: typeof v.url === 'string' ? v.url : null,
      since: typeof v.since === 'number' ? v.since : null,
      host: typeof v.host === 'string' ? v.host : null,
      pid: typeof v.pid === 'number' ? v.pid : null,
    };
  } catch {
    // Not ours (e.g. a plain `etcdctl elect` value): the value is the name.
    return { id: text || key, url: null, since: null, host: null, pid: null };
  }
}

/** Every scheduler campaigning, oldest campaign first: the first leads, the others stand by in this order. */
export async function readCandidates(etcd: Etcd3): Promise<ElectedLeader[]> {
  const res = await etcd.getAll().prefix(ELECTION_PREFIX).sort('Create', 'Ascend').exec();
  return res.kvs.map((kv) => {
    const key = kv.key.toString('utf8');
    return { ...parseInfo(kv.value.toString('utf8'), key), key, createRevision: String(kv.create_revision) };
  });
}

/** The elected scheduler, or null when none campaigns. */
export async function readLeader(etcd: Etcd3): Promise<ElectedLeader | null> {
  return (await readCandidates(etcd))[0] ?? null;
}

/**
 * Until when a lease surely lives, by this process's monotonic clock: a keepalive answered renews it from the moment
 * the keepalive was sent (etcd counts from when it got it, which is later). Survives SIGSTOP: the clock runs on.
 */
class LeaseDeadline {
  private sent: number[] = [];
  private until: number;

  constructor(lease: Lease, grantSentAt: number, private readonly ttlMs: number, private readonly marginMs: number) {
    this.until = grantSentAt + ttlMs;
    lease.on('keepaliveEstablished', () => { this.sent = []; });
    lease.on('keepaliveFired', () => { this.sent.push(performance.now()); });
    lease.on('keepaliveSucceeded', (res: { TTL: string }) => {
      const sentAt = this.sent.shift();
      if (sentAt === undefined) return;
      this.until = Math.max(this.until, sentAt + Math.min(Number(res.TTL) * 1000, this.ttlMs));
    });
  }

  valid(): boolean {
    return performance.now() < this.until - this.marginMs;
  }
}

/** A one-shot end of a campaign with its reason; `lost` when the lease is, or may be, gone. */
class CampaignEnd {
  done = false;
  lost = false;
  reason = '';
  readonly promise: Promise<string>;
  private resolve!: (reason: string) => void;

  constructor() {
    this.promise = new Promise((r) => { this.resolve = r; });
  }

  end(reason: string, lost: boolean): void {
    if (this.done) return;
    this.done = true;
    this.lost = lost;
    this.reason = reason;
    this.resolve(reason);
  }
}

class CampaignEnded extends Error {}

function raceEnd<T>(work: Promise<T>, end: CampaignEnd): Promise<T> {
  return Promise.race([work, end.promise.then((reason) => { throw new CampaignEnded(reason); })]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ElectionOptions {
  etcd: Etcd3;
  id: string;
  /** Lease TTL: a dead or cut-off leader is replaced this long after its last keepalive. */
  ttlSeconds: number;
  log: Logger;
  clock: Clock;
  /** This scheduler's operator URL, announced in its election key. */
  url: () => string | null;
  /**
   * Called when elected, with the fence to put on the store; leading starts here. If it throws, the campaign is
   * given up (the lease revoked, so another scheduler leads) and tried again.
   */
  onElected: (fence: WriteFence) => Promise<void>;
  /**
   * Called when leadership ends; stops the leading work. `lost`: the lease is or may be gone, nothing may be written;
   * otherwise (shutdown) the lease still holds until it is revoked right after.
   */
  onDemoted: (reason: string, lost: boolean) => Promise<void>;
}

/** One scheduler's candidacy: campaigns, leads, and campaigns again after losing, until closed. */
export class SchedulerElection {
  private role: SchedulerRole = 'standby';
  private since: number | null = null;
  private closed = false;
  private current: CampaignEnd | null = null;
  private loop: Promise<void> | null = null;
  private firstOutcome!: () => void;
  /** Resolves once this scheduler knows whether it leads (elected, or another leads). */
  readonly settled: Promise<void> = new Promise((r) => { this.firstOutcome = r; });

  constructor(private readonly opts: ElectionOptions) {}

  status(): LeadershipStatus {
    return { id: this.opts.id, role: this.role, since: this.since, ttlSeconds: this.opts.ttlSeconds };
  }

  start(): void {
    this.loop ??= this.campaignLoop();
  }

  /** Stops campaigning: a leader stops leading (gracefully) and revokes its lease, so a standby takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    this.current?.end('shutting down', false);
    await this.loop;
  }

  private async campaignLoop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const started = performance.now();
      try {
        await this.campaign();
      } catch (err) {
        if (!(err instanceof CampaignEnded)) this.opts.log.warn({ err: String(err) }, 'scheduler election: campaign failed; trying again');
      }
      this.firstOutcome();
      // A campaign that lasted is no failure: campaign again at once; repeated quick failures back off a little.
      failures = performance.now() - started > this.opts.ttlSeconds * 1000 ? 0 : failures + 1;
      if (!this.closed) await sleep(Math.min(2_000, 100 * 2 ** Math.min(failures, 5)));
    }
  }

  private info(since: number | null): string {
    const info: LeaderInfo = { id: this.opts.id, url: this.opts.url(), since, host: os.hostname(), pid: process.pid };
    return JSON.stringify(info);
  }

  private async campaign(): Promise<void> {
    const { etcd, log } = this.opts;
    const ttlMs = this.opts.ttlSeconds * 1000;
    const end = new CampaignEnd();
    this.current = end;
    if (this.closed) return;
    const grantSentAt = performance.now();
    const lease = etcd.lease(this.opts.ttlSeconds);
    const deadline = new LeaseDeadline(lease, grantSentAt, ttlMs, Math.min(250, ttlMs / 10));
    lease.on('lost', (err: Error) => end.end(`lease lost: ${err.message}`, true));
    const watchdog = setInterval(() => {
      if (!deadline.valid()) end.end('no keepalive answered within the lease TTL', true);
    }, 100);
    let ownKeyWatch: { cancel(): Promise<void> } | null = null;
    try {
      const leaseId = await raceEnd(lease.grant(), end);
      const key = `${ELECTION_PREFIX}${BigInt(leaseId).toString(16)}`;
      await raceEnd(this.reclaimPreviousRun(key), end);
      const created = await raceEnd(
        etcd.if(key, 'Create', '==', 0).then(etcd.put(key).value(this.info(null)).lease(leaseId)).else(etcd.get(key)).commit(),
        end,
      );
      const createRevision = created.succeeded ? String(created.header.revision) : String(created.responses[0]?.response_range?.kvs[0]?.create_revision ?? '0');
      await raceEnd(this.waitForPredecessors(key, createRevision, end), end);

      // Elected, unless the lease ran out meanwhile (a standby cut off from etcd): then the key is gone.
      const mine = await raceEnd(etcd.get(key).exec(), end);
      if (String(mine.kvs[0]?.create_revision ?? '0') !== createRevision) throw new Error('the campaign key vanished before the election (lease expired)');
      const fence: WriteFence = { key, createRevision, holds: () => !end.lost && deadline.valid() };
      if (!fence.holds()) throw new CampaignEnded(end.reason || 'lease ran out');
      const watcher = await raceEnd(createWatch(etcd.watch().key(key).only('delete')), end);
      ownKeyWatch = watcher;
      watcher.on('delete', () => end.end('the election key was deleted', true));

      this.since = this.opts.clock.now();
      this.role = 'leader';
      this.firstOutcome();
      log.info({ id: this.opts.id, key, createRevision, ttlSeconds: this.opts.ttlSeconds }, 'elected scheduler leader');
      await raceEnd(etcd.if(key, 'Create', '==', Number(createRevision)).then(etcd.put(key).value(this.info(this.since)).lease(leaseId)).commit(), end);
      try {
        await raceEnd(this.opts.onElected(fence), end);
      } catch (err) {
        if (!(err instanceof CampaignEnded)) end.end(`could not take over: ${err instanceof Error ? err.message : String(err)}`, false);
      }
      await end.promise;
    } finally {
      clearInterval(watchdog);
      if (!end.done) end.end('campaign failed', false);
      const wasLeader = this.role === 'leader';
      this.role = 'standby';
      this.since = null;
      if (wasLeader) {
        (end.lost ? log.error.bind(log) : log.info.bind(log))({ id: this.opts.id, reason: end.reason }, end.lost ? 'lost scheduler leadership; standing by' : 'gave up scheduler leadership');
        await this.opts.onDemoted(end.reason, end.lost).catch((err: unknown) => log.error({ err: String(err) }, 'stopping the leader work failed'));
      }
      await ownKeyWatch?.cancel().catch(() => undefined);
      // Give the key up now, so a standby need not wait for the TTL (a lease already gone is fine).
      // (revoke stops the keepalives first, whether or not etcd answers.)
      await Promise.race([lease.revoke().catch(() => undefined), sleep(1_000)]);
    }
  }

  /**
   * A scheduler restarted under the same id (a container restarted, a systemd unit) finds the key of its previous,
   * crashed run and revokes its lease instead of waiting out the TTL. A namesake that is alive on this host is left
   * alone (ids must be unique; that is logged).
   */
  private async reclaimPreviousRun(ownKey: string): Promise<void> {
    const { etcd, log } = this.opts;
    for (const c of await readCandidates(etcd)) {
      if (c.id !== this.opts.id || c.key === ownKey) continue;
      if (c.host === os.hostname() && c.pid !== null && c.pid !== process.pid && pidAlive(c.pid)) {
        log.error({ id: this.opts.id, key: c.key, pid: c.pid }, `another live scheduler on this host has the id ${this.opts.id}: give each scheduler its own --scheduler_id`);
        continue;
      }
      const lease = BigInt(`0x${c.key.slice(ELECTION_PREFIX.length)}`).toString();
      await etcd.leaseClient.leaseRevoke({ ID: lease }).catch(() => undefined);
      log.warn({ id: this.opts.id, key: c.key, host: c.host, pid: c.pid }, 'revoked the election lease of a previous run of this scheduler (same id)');
    }
  }

  /** Waits until no election key older than ours is left (the Go client's waitDeletes). */
  private async waitForPredecessors(key: string, createRevision: string, end: CampaignEnd): Promise<void> {
    const { etcd, log } = this.opts;
    let announced = '';
    while (!end.done) {
      const res = await etcd.getAll().prefix(ELECTION_PREFIX).maxCreateRevision(String(BigInt(createRevision) - 1n)).sort('Create', 'Descend').limit(1).exec();
      const previous = res.kvs[0];
      if (!previous) return;
      const leader = await readLeader(etcd).catch(() => null);
      if (leader && leader.key !== announced) {
        announced = leader.key;
        log.info({ id: this.opts.id, key, leader: leader.id, leaderUrl: leader.url }, `standing by: ${leader.id} leads`);
      }
      this.firstOutcome();
      const watcher = await createWatch(etcd.watch().key(previous.key.toString('utf8')).startRevision(String(BigInt(res.header.revision) + 1n)).only('delete'));
      try {
        await new Promise<void>((resolve, reject) => {
          watcher.once('delete', () => resolve());
          watcher.once('error', reject);
          void end.promise.then(() => resolve());
        });
      } finally {
        await watcher.cancel().catch(() => undefined);
      }
    }
  }
}
