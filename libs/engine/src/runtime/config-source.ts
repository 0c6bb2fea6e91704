import type { Etcd3, Watcher } from 'etcd3';
import { decodeStoredConfig, keys, parseConfig, parseConfigObject, type DynamiteConfig } from '@dynamite/domain';
import { createWatch, type StateStore } from '@dynamite/store';

/** A parsed config and the etcd revision it was stored at. */
export type ConfigAtRevision = { modRevision: string; config: DynamiteConfig };
type Cached = ConfigAtRevision;

/**
 * The config every worker uses: the copy the scheduler stored in etcd (`/_dynamite/init/application_configuration`),
 * so workers need neither the YAML file nor the unit files. It is read once and then kept current by an etcd
 * watch on that one key: a job costs no round trip for it (at 1,000 services the stored config is ~840 KB), and a
 * config stored anew reaches every worker within a watch event. Until the watch is established, and whenever it
 * fails, every call reads etcd (a revision check, then the value only when it changed).
 */
export class ConfigSource {
  private cached: Cached | null = null;
  /** The watch, while it is connected (calls are served from the cache then). */
  private watcher: Watcher | null = null;
  /** The watch, connected or reconnecting. */
  private established: Watcher | null = null;
  private watching: Promise<void> | null = null;
  private closed = false;
  /** How often etcd was read and the stored text parsed (the cache's own figures, for tests and metrics). */
  readonly counts = { reads: 0, parses: 0 };

  /**
   * `watchClient`: an etcd client of its own for the watch. etcd3 multiplexes every watch of a client on one
   * stream, and a watch that etcd cancels at creation (the sample watch resuming from a compacted revision) breaks
   * that stream's bookkeeping for the others ("Failed to find watcher for IWatchResponse").
   */
  constructor(private readonly store: StateStore, private readonly opts: { watch?: boolean; watchClient?: () => Etcd3 } = {}) {}

  private watchEtcd: Etcd3 | null = null;

  async current(): Promise<DynamiteConfig> {
    return (await this.latest()).config;
  }

  /**
   * The config and its revision. `fresh`: checked against etcd even while the watch serves (a worker about to refuse
   * a job for a service it does not know makes sure no newer config names it).
   */
  async latest(opts: { fresh?: boolean } = {}): Promise<ConfigAtRevision> {
    if (!opts.fresh && this.watcher && this.cached) return this.cached;
    const read = await this.read();
    if (this.opts.watch !== false && !this.closed) this.watching ??= this.watch();
    return read;
  }

  /** Calls `listener` with every config newly parsed (a new revision), from a read or the watch. Returns how to stop. */
  onChange(listener: (latest: ConfigAtRevision) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  private readonly listeners = new Set<(latest: ConfigAtRevision) => void>();

  /** A revision check; the value is fetched and parsed only when the stored config changed. */
  private async read(): Promise<Cached> {
    this.counts.reads += 1;
    const head = await this.store.etcd.kv.range({ key: Buffer.from(keys.applicationConfiguration), keys_only: true });
    const kv = head.kvs[0];
    if (!kv) throw new Error(`no configuration in etcd at ${keys.applicationConfiguration}; start the scheduler first`);
    if (this.cached?.modRevision === String(kv.mod_revision)) return this.cached;
    const res = await this.store.etcd.get(keys.applicationConfiguration).exec();
    const full = res.kvs[0];
    if (!full) throw new Error(`no configuration in etcd at ${keys.applicationConfiguration}; start the scheduler first`);
    return this.accept(String(full.mod_revision), full.value.toString('utf8'));
  }

  private accept(modRevision: string, text: string): Cached {
    if (this.cached?.modRevision === modRevision) return this.cached;
    this.counts.parses += 1;
    let json: string;
    try {
      json = decodeStoredConfig(text);
    } catch (err) {
      throw new Error(`stored configuration is invalid: ${(err as Error).message}`);
    }
    // The stored copy is JSON (JSON.parse is many times faster than YAML on a config of 10,000 services); text put
    // there by hand may be YAML.
    let raw: unknown;
    let isJson = true;
    try {
      raw = JSON.parse(json);
    } catch {
      isJson = false;
    }
    const parsed = isJson ? parseConfigObject(raw) : parseConfig(json, { source: keys.applicationConfiguration });
    if (!parsed.ok) {
      throw new Error(`stored configuration is invalid: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    }
    this.cached = { modRevision, config: parsed.config };
    for (const listener of this.listeners) {
      try { listener(this.cached); } catch { /* a listener's failure is its own */ }
    }
    return this.cached;
  }

  /** Watches the config key from the revision read, so no change between the read and the watch is missed. */
  private async watch(): Promise<void> {
    const from = this.cached ? (BigInt(this.cached.modRevision) + 1n).toString() : undefined;
    this.watchEtcd ??= this.opts.watchClient?.() ?? null;
    let builder = (this.watchEtcd ?? this.store.etcd).watch().key(keys.applicationConfiguration);
    if (from) builder = builder.startRevision(from);
    try {
      const watcher = await createWatch(builder);
      if (this.closed) { await watcher.cancel().catch(() => undefined); return; }
      watcher.on('put', (kv) => {
        // An event may come after a read already took a newer revision: never go back to an older config.
        if (this.cached && BigInt(this.cached.modRevision) > BigInt(String(kv.mod_revision))) return;
        try {
          this.accept(String(kv.mod_revision), kv.value.toString('utf8'));
        } catch {
          // An invalid stored config: drop the cache, so every call reads etcd and reports it.
          this.cached = null;
        }
      });
      watcher.on('delete', () => { this.cached = null; });
      // While the watch stream is down (etcd3 reconnects it by itself; createWatch replays from the last event seen),
      // calls read etcd; a watch etcd cancelled (e.g. its revision compacted) is replaced on the next call.
      watcher.on('disconnected', () => { if (this.watcher === watcher) this.watcher = null; });
      watcher.on('connected', () => { if (!this.closed && this.watching !== null) this.watcher = watcher; });
      watcher.on('error', () => {
        if (this.watcher === watcher) this.watcher = null;
        this.watching = null;
        void watcher.cancel().catch(() => undefined);
      });
      this.watcher = watcher;
      this.established = watcher;
    } catch {
      this.watching = null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const watcher = this.established;
    this.watcher = null;
    this.established = null;
    if (watcher) await Promise.race([watcher.cancel().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000))]);
    this.watchEtcd?.close();
  }
}
