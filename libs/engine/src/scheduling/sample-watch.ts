import type { IKeyValue } from 'etcd3/lib/rpc';
import type { Etcd3, Watcher } from 'etcd3';
import {
  keys,
  parseSampleKey,
  routeSample,
  type MachineRef,
  type DecisionRecord,
  type DynamiteConfig,
  deterministicId,
} from '@dynamite/domain';
import { createWatch } from '@dynamite/store';
import type { EngineContext } from '../runtime/context';

/** The most events turned into jobs at once (one round trip for their receipts, one addBulk of checks). */
const MAX_BATCH = 2_000;

/**
 * Turns sample keys written to etcd into policy-check jobs. Watches the metrics prefix with the etcd v3 watch API,
 * resuming from the revision stored in etcd after any restart, so no sample is lost; checks read samples after
 * each state machine's cursor, so none is evaluated twice. When it cannot resume -- the stored revision was
 * compacted away, or is missing or unusable after an engine ran -- it resynchronises from a range read of the
 * current samples, records the gap, and goes on.
 */
export class SampleWatch {
  private watcher: Watcher | null = null;
  private pending: { key: string; revision: string }[] = [];
  private drainQueued = false;
  private lastRevision: string | null = null;
  private flushedRevision: string | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  readonly counts = { events: 0, jobs: 0, rejected: 0, resyncs: 0 };

  private readonly flushEveryMs: number;
  /**
   * The watch's own etcd client: etcd3 multiplexes every watch of a client on one stream, and a watch that etcd
   * cancels at creation (resuming from a compacted revision, which this one does by design) breaks that stream's
   * bookkeeping for the others ("Failed to find watcher for IWatchResponse"), such as the leader election's.
   */
  private readonly watchEtcd: Etcd3 | null;

  /** How long the first event of a batch waits for others (ms). */
  private readonly gatherMs: number;

  constructor(private readonly ctx: EngineContext, private config: DynamiteConfig, opts: { flushEveryMs?: number; gatherMs?: number; watchClient?: () => Etcd3 } = {}) {
    this.flushEveryMs = opts.flushEveryMs ?? 200;
    this.gatherMs = opts.gatherMs ?? 20;
    this.watchEtcd = opts.watchClient?.() ?? null;
  }

  /**
   * Routes samples by `config` from the next batch on, without restarting the watch (a hot reload). The metrics
   * prefix cannot change this way: that takes a new watch (see apps/scheduler LeaderTerm).
   */
  useConfig(config: DynamiteConfig): void {
    if (config.etcd.metricsBasePath !== this.config.etcd.metricsBasePath) throw new Error('ETCD.metrics_base_path changed: start a new sample watch');
    this.config = config;
  }

  get prefix(): string {
    return `${this.config.etcd.metricsBasePath}/`;
  }

  /** Revision of the newest event handled (turned into jobs). */
  get revision(): string | null {
    return this.lastRevision;
  }

  /**
   * Starts watching after the stored revision. Without one to trust (none, not a decimal revision, or ahead of
   * etcd: the store reports those), an engine that ran before (`recovered`) cannot know which samples it missed
   * and resynchronises from a range read; only a first start begins at etcd's current revision.
   */
  async start(mode: 'fresh' | 'recovered'): Promise<void> {
    const { revision, current } = await this.ctx.store.readWatchRevision();
    if (revision !== null) {
      this.lastRevision = revision;
      await this.watchFrom(BigInt(revision) + 1n);
    } else if (mode === 'recovered') {
      await this.resync('missing', 'no usable watch revision stored');
    } else {
      // First start: nothing before now is owed a job.
      this.lastRevision = current;
      await this.flush();
      await this.watchFrom(BigInt(current) + 1n);
    }
    this.flushTimer = setInterval(() => void this.flush(), this.flushEveryMs);
  }

  private async watchFrom(revision: bigint): Promise<void> {
    const watcher = await createWatch((this.watchEtcd ?? this.ctx.store.etcd).watch().prefix(this.prefix).startRevision(revision.toString()));
    this.watcher = watcher;
    watcher.on('put', (kv: IKeyValue) => {
      // Events are handled strictly in order, in batches: every event that arrived while the previous batch was
      // being turned into jobs goes into the next one (one Redis round trip for its receipts, one for its checks).
      this.pending.push({ key: kv.key.toString('utf8'), revision: String(kv.mod_revision) });
      if (this.drainQueued) return;
      this.drainQueued = true;
      // Events of the next few milliseconds join the batch: one check job then covers many machines (each job costs
      // a few dozen Redis commands however many it covers), at the price of that wait before a sample is evaluated.
      const gathered = new Promise((r) => setTimeout(r, this.gatherMs));
      this.chain = this.chain.then(() => gathered).then(() => this.drain()).catch((err: unknown) => this.ctx.log.error({ err: String(err) }, 'sample events failed'));
    });
    watcher.on('error', (err: Error) => {
      if (this.stopped || this.watcher !== watcher) return;
      // etcd cancels a watch whose start revision was compacted away ("Watcher canceled: ..."; the reason text is
      // often empty). A range read of what is there now is correct in every case, so any cancel resynchronises.
      const canceled = /compact|canceled/i.test(err.message);
      this.ctx.log.warn({ err: err.message }, canceled ? 'sample watch canceled by etcd; resynchronising' : 'sample watch error; re-watching');
      this.restart(canceled ? 'resync' : 'rewatch', err.message, 0);
    });
  }

  /** Restarts the watch; on failure retries (as a resync, which is right in every case) with backoff until stopped. */
  private restart(how: 'resync' | 'rewatch', reason: string, failures: number): void {
    this.chain = this.chain
      .then(() => (how === 'resync' ? this.resync('compacted', reason) : this.rewatch()))
      .catch((e: unknown) => {
        if (this.stopped) return;
        const delay = Math.min(30_000, 500 * 2 ** failures);
        this.ctx.log.error({ err: String(e), failures: failures + 1, retryInMs: delay }, 'could not restart the sample watch; retrying');
        setTimeout(() => this.restart('resync', `retry after: ${String(e)}`, failures + 1), delay);
      });
  }

  /** Cancels the current watcher without waiting forever: etcd may already have cancelled it on its side. */
  private async dropWatcher(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = null;
    if (!watcher) return;
    await Promise.race([watcher.cancel().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000))]);
  }

  private async rewatch(): Promise<void> {
    if (this.stopped) return;
    await this.dropWatcher();
    await this.watchFrom(BigInt(this.lastRevision ?? '0') + 1n);
  }

  private async drain(): Promise<void> {
    this.drainQueued = false;
    // Stopped (e.g. leadership lost): not handled, so not counted in the revision; the next leader replays them.
    if (this.stopped) { this.pending = []; return; }
    while (this.pending.length > 0 && !this.stopped) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        await this.enqueueBatch(batch);
      } catch (err) {
        // Redis refused the checks: the batch goes back in front and is tried again (the revision did not move, so
        // no later batch can be stored past it).
        this.pending.unshift(...batch);
        this.ctx.log.warn({ err: String(err), events: batch.length }, 'could not add checks; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /**
   * Turns a batch of sample events into checks: one per state machine the batch touches, carrying the newest
   * revision of the batch and the time it was received (the scheduler had seen etcd up to there by then). A key
   * that is not a sample is counted here; values are checked where they are evaluated, so each bad sample is
   * counted once.
   */
  private async enqueueBatch(batch: { key: string; revision: string }[]): Promise<void> {
    const receivedAt = this.ctx.clock.now();
    const machines = new Map<string, MachineRef>();
    const revisions: string[] = [];
    for (const { key, revision } of batch) {
      this.counts.events += 1;
      const parsed = parseSampleKey(key, this.config.etcd.metricsBasePath);
      if (!parsed.ok) {
        this.reject(parsed.reason, key, parsed.message);
        continue;
      }
      const routes = routeSample(parsed.sample, this.config);
      if (routes.length === 0) continue; // a metric no policy uses
      revisions.push(revision);
      for (const { service, policy, machine } of routes) machines.set(`${service}|${policy}|${machine}`, { service, policy, machine });
    }
    // Each sample's own receipt time, for the worker (a check may run well after it).
    if (revisions.length > 0) {
      await this.ctx.jobs.recordReceipts(revisions, receivedAt).catch((err: unknown) => this.ctx.log.warn({ err: String(err) }, 'could not note receipt times'));
    }
    const revision = batch[batch.length - 1]!.revision;
    this.counts.jobs += await this.ctx.jobs.addChecks([...machines.values()], { revision, receivedAt });
    this.lastRevision = revision;
  }

  private reject(reason: string, key: string, message: string): void {
    this.counts.rejected += 1;
    this.ctx.rejections.reject(reason, key, message);
  }

  /**
   * The watch cannot resume from its revision (compacted away, or none stored): read what is there now, enqueue
   * checks for it, watch on from there.
   */
  private async resync(cause: 'compacted' | 'missing', reason: string): Promise<void> {
    if (this.stopped) return;
    this.counts.resyncs += 1;
    this.ctx.metrics.watchResyncs.inc();
    await this.dropWatcher();
    const { revision, seen } = await this.checkEveryMachine();
    const now = this.ctx.clock.now();
    const gap = cause === 'compacted'
      ? `revisions after ${this.lastRevision} were compacted`
      : 'no watch revision to resume from was stored (missing, or not one etcd has)';
    for (const service of new Set([...seen].map((id) => id.split('|')[0]!))) {
      const record: DecisionRecord = {
        id: deterministicId(now, 'resync', service, revision),
        at: now, service, policy: null, machine: null, direction: null, outcome: 'resync', reason: cause,
        rule: null, inputs: { fromRevision: this.lastRevision, toRevision: revision, error: reason },
        action: null,
        message: `sample watch resumed at revision ${revision}: ${gap}; current samples re-read`,
      };
      await this.ctx.store.commit([], [{ put: keys.decision(service, record.id), value: JSON.stringify(record) }]);
    }
    this.ctx.log.warn({ fromRevision: this.lastRevision, toRevision: revision, cause }, `${gap}; resynchronised from a range read`);
    this.lastRevision = revision;
    await this.flush();
    await this.watchFrom(BigInt(revision) + 1n);
  }

  /**
   * Adds a check for every state machine that has samples in etcd right now (deduplicated per machine). Used after a
   * compaction gap and after Redis was wiped, when checks may have been lost: each reads after its cursor, so nothing
   * is evaluated twice.
   */
  async checkEveryMachine(): Promise<{ revision: string; seen: Set<string> }> {
    // One range read: its header revision is exactly the state the checks will cover.
    const res = await this.ctx.store.etcd.getAll().prefix(this.prefix).exec();
    const revision = String(res.header.revision);
    const machines = new Map<string, MachineRef>();
    for (const key of res.kvs.map((kv) => kv.key.toString('utf8'))) {
      const parsed = parseSampleKey(key, this.config.etcd.metricsBasePath);
      if (!parsed.ok) continue;
      for (const { service, policy, machine } of routeSample(parsed.sample, this.config)) machines.set(`${service}|${policy}|${machine}`, { service, policy, machine });
    }
    await this.ctx.jobs.addChecks([...machines.values()], { revision, receivedAt: this.ctx.clock.now() });
    return { revision, seen: new Set(machines.keys()) };
  }

  private flushes = 0;

  async flush(): Promise<void> {
    this.flushes += 1;
    if (this.flushes % 50 === 0) await this.ctx.jobs.trimReceipts(this.ctx.clock.now()).catch(() => undefined);
    const revision = this.lastRevision;
    if (revision === null || revision === this.flushedRevision) return;
    try {
      await this.ctx.store.writeWatchRevision(revision);
      this.flushedRevision = revision;
    } catch (err) {
      this.ctx.log.warn({ err: String(err) }, 'could not store the watch revision (will retry)');
    }
  }

  /**
   * Stops watching; events already received are turned into jobs and the revision is stored -- unless `flush` is
   * false (a scheduler that lost its leadership must not write: the next leader resumes from the stored revision).
   */
  async stop(opts: { flush?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.dropWatcher();
    if (opts.flush !== false) {
      await Promise.race([this.chain, new Promise((r) => setTimeout(r, 5_000))]);
      await this.flush();
    }
    this.watchEtcd?.close();
  }
}
