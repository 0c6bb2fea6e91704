import type { IKeyValue } from 'etcd3/lib/rpc';
import type { Watcher } from 'etcd3';
import {
  keys,
  parseSampleKey,
  routeSample,
  type DecisionRecord,
  type DynamiteConfig,
  deterministicId,
} from '@dynamite/domain';
import type { EngineContext } from '../runtime/context';

/**
 * Turns sample keys written to etcd into policy-check jobs. Watches the metrics prefix with the etcd v3 watch API,
 * resuming from the revision stored in etcd after any restart, so no sample is lost; checks read samples after
 * each state machine's cursor, so none is evaluated twice. When the stored revision has been compacted away, it
 * resynchronises from a range read of the current samples, records the gap, and goes on.
 */
export class SampleWatch {
  private watcher: Watcher | null = null;
  private lastRevision: string | null = null;
  private flushedRevision: string | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  readonly counts = { events: 0, jobs: 0, rejected: 0, resyncs: 0 };

  constructor(private readonly ctx: EngineContext, private readonly config: DynamiteConfig, private readonly flushEveryMs = 200) {}

  get prefix(): string {
    return `${this.config.etcd.metricsBasePath}/`;
  }

  /** Revision of the newest event handled (turned into jobs). */
  get revision(): string | null {
    return this.lastRevision;
  }

  async start(): Promise<void> {
    const stored = await this.ctx.store.readWatchRevision();
    if (stored === null) {
      // First start: nothing before now is owed a job.
      this.lastRevision = await this.ctx.store.currentRevision();
      await this.flush();
    } else {
      this.lastRevision = stored;
    }
    await this.watchFrom(BigInt(this.lastRevision) + 1n);
    this.flushTimer = setInterval(() => void this.flush(), this.flushEveryMs);
  }

  private async watchFrom(revision: bigint): Promise<void> {
    const watcher = await this.ctx.store.etcd.watch().prefix(this.prefix).startRevision(revision.toString()).create();
    this.watcher = watcher;
    watcher.on('put', (kv: IKeyValue) => {
      // Handle events strictly in order, one at a time.
      this.chain = this.chain.then(() => this.onPut(kv)).catch((err: unknown) => this.ctx.log.error({ err: String(err) }, 'sample event failed'));
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
      .then(() => (how === 'resync' ? this.resync(reason) : this.rewatch()))
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

  private async onPut(kv: IKeyValue): Promise<void> {
    // Stopped (e.g. leadership lost): not handled, so not counted in the revision; the next leader replays it.
    if (this.stopped) return;
    this.counts.events += 1;
    const key = kv.key.toString('utf8');
    const revision = String(kv.mod_revision);
    await this.enqueueFor(key, revision);
    this.lastRevision = revision;
  }

  private async enqueueFor(key: string, revision: string): Promise<void> {
    const parsed = parseSampleKey(key, this.config.etcd.metricsBasePath);
    if (!parsed.ok) {
      this.reject(parsed.reason, key, parsed.message);
      return;
    }
    const routes = routeSample(parsed.sample, this.config);
    if (routes.length === 0) return; // a metric no policy uses
    const receivedAt = this.ctx.clock.now();
    // The sample's own receipt time, for the worker (a deduplicated check may run well after it).
    await this.ctx.jobs.recordReceipt(revision, receivedAt).catch((err: unknown) => this.ctx.log.warn({ err: String(err) }, 'could not note a receipt time'));
    // Values are checked where they are evaluated (the policy check), so each bad sample is counted once.
    for (const route of routes) {
      await this.ctx.jobs.addCheck({ service: route.service, policy: route.policy, machine: route.machine, receivedAt, revision });
      this.counts.jobs += 1;
    }
  }

  private reject(reason: string, key: string, message: string): void {
    this.counts.rejected += 1;
    this.ctx.rejections.reject(reason, key, message);
  }

  /** The stored revision was compacted: read what is there now, enqueue checks for it, watch on from there. */
  private async resync(reason: string): Promise<void> {
    if (this.stopped) return;
    this.counts.resyncs += 1;
    this.ctx.metrics.watchResyncs.inc();
    await this.dropWatcher();
    const { revision, seen } = await this.checkEveryMachine();
    const now = this.ctx.clock.now();
    for (const service of new Set([...seen].map((id) => id.split('|')[0]!))) {
      const record: DecisionRecord = {
        id: deterministicId(now, 'resync', service, revision),
        at: now, service, policy: null, machine: null, direction: null, outcome: 'resync', reason: 'compacted',
        rule: null, inputs: { fromRevision: this.lastRevision, toRevision: revision, error: reason },
        action: null,
        message: `sample watch resumed at revision ${revision}: revisions after ${this.lastRevision} were compacted; current samples re-read`,
      };
      await this.ctx.store.commit([], [{ put: keys.decision(service, record.id), value: JSON.stringify(record) }]);
    }
    this.ctx.log.warn({ fromRevision: this.lastRevision, toRevision: revision }, 'watch revision compacted; resynchronised from a range read');
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
    const seen = new Set<string>();
    for (const key of res.kvs.map((kv) => kv.key.toString('utf8'))) {
      const parsed = parseSampleKey(key, this.config.etcd.metricsBasePath);
      if (!parsed.ok) continue;
      for (const route of routeSample(parsed.sample, this.config)) {
        const id = `${route.service}|${route.policy}|${route.machine}`;
        if (seen.has(id)) continue;
        seen.add(id);
        await this.ctx.jobs.addCheck({ service: route.service, policy: route.policy, machine: route.machine, receivedAt: this.ctx.clock.now(), revision });
      }
    }
    return { revision, seen };
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
    if (opts.flush === false) return;
    await Promise.race([this.chain, new Promise((r) => setTimeout(r, 5_000))]);
    await this.flush();
  }
}
