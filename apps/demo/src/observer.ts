import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { keys, type DecisionRecord } from '@dynamite/domain';
import { parsePauseRecord, type CooldownRecord, type InstanceRecord, type PauseRecord, type StoredMachine } from '@dynamite/store';

export interface ObservedInstance {
  record: InstanceRecord;
  /** Wall ms we first saw it (any state), and first saw it launched. */
  seenAt: number;
  launchedAt: number | null;
}

export interface ObservedDecision {
  record: DecisionRecord;
  /** Wall ms the demo saw it. */
  seenAt: number;
  /** The etcd revision that wrote it: orders it against a pause exactly (the engine commits both through etcd). */
  revision: bigint;
}

/** An operator's pause of the service, from the write that set it to the one that removed it. */
export interface ObservedPause {
  record: PauseRecord;
  fromRevision: bigint;
  /** null: still set. */
  toRevision: bigint | null;
  seenAt: number;
  endedAt: number | null;
}

export interface ArmedView {
  policy: string;
  machine: string;
  expiresAt: number;
  samples: number;
}

/**
 * Everything the live view and the summary show, kept up to date by etcd watches: the engine's instance records,
 * cooldowns, policy state machines and decision records under /_dynamite, plus the registrations and samples the
 * demo's agents write. Nothing here is read from the engine's processes: only etcd, like any other tool would.
 */
export class Observer {
  readonly instances = new Map<string, ObservedInstance>();
  /** Instance names removed, with when. */
  readonly removed = new Map<string, number>();
  readonly cooldowns = new Map<string, CooldownRecord>();
  readonly machines = new Map<string, StoredMachine>();
  readonly decisions = new Map<string, ObservedDecision>();
  /** uuid -> instance name. */
  readonly registrations = new Map<string, string>();
  /** The service's pauses, oldest first; the last one with no `toRevision` is set now. */
  readonly pauses: ObservedPause[] = [];
  /** uuid -> newest sample. */
  readonly latest = new Map<string, { ts: string; value: number; at: number }>();
  maxLaunched = 0;
  samples = 0;

  private readonly revisions = new Map<string, bigint>();
  private readonly watchers: Watcher[] = [];

  constructor(
    private readonly etcd: Etcd3,
    private readonly service: string,
    private readonly registrationPrefix: string,
    private readonly samplePrefix: string,
    private readonly onDecision: (d: ObservedDecision) => void,
  ) {}

  private get prefixes(): string[] {
    return [
      keys.servicePrefix(this.service),
      keys.servicePolicyPrefix(this.service),
      keys.serviceDecisionsPrefix(this.service),
      keys.serviceControlPrefix(this.service),
      this.registrationPrefix,
      this.samplePrefix,
    ];
  }

  async start(): Promise<void> {
    // Watch first, then read: whatever changes in between arrives through the watch as well.
    for (const prefix of this.prefixes) {
      const watcher = await this.etcd.watch().prefix(prefix).create();
      watcher.on('put', (kv) => this.apply(kv, false));
      watcher.on('delete', (kv) => this.apply(kv, true));
      watcher.on('error', () => undefined);
      this.watchers.push(watcher);
    }
    for (const prefix of this.prefixes) {
      const res = await this.etcd.getAll().prefix(prefix).exec();
      for (const kv of res.kvs) this.apply(kv, false);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.watchers.map((w) => w.cancel().catch(() => undefined)));
    this.watchers.length = 0;
  }

  private apply(kv: IKeyValue, deleted: boolean): void {
    const key = kv.key.toString('utf8');
    const rev = BigInt(kv.mod_revision);
    const known = this.revisions.get(key);
    if (!deleted && known !== undefined && known >= rev) return;
    this.revisions.set(key, rev);
    const text = kv.value.toString('utf8');
    const now = Date.now();
    try {
      if (key.startsWith(keys.servicePrefix(this.service))) this.applyInstance(key.slice(keys.servicePrefix(this.service).length), text, deleted, now);
      else if (key.startsWith(keys.servicePolicyPrefix(this.service))) this.applyPolicy(key.slice(keys.servicePolicyPrefix(this.service).length), text, deleted);
      else if (key.startsWith(keys.serviceDecisionsPrefix(this.service))) this.applyDecision(text, deleted, now, rev);
      else if (key === keys.pause(this.service)) this.applyPause(text, deleted, now, rev);
      else if (key.startsWith(this.registrationPrefix)) this.applyRegistration(key.slice(this.registrationPrefix.length), text, deleted);
      else if (key.startsWith(this.samplePrefix)) this.applySample(key.slice(this.samplePrefix.length), text, deleted, now);
    } catch {
      // a value we cannot read is not the demo's business
    }
  }

  private applyInstance(leaf: string, text: string, deleted: boolean, now: number): void {
    if (leaf.includes('/') || leaf === 'fleet_service_template') return;
    if (deleted) {
      if (this.instances.delete(leaf)) this.removed.set(leaf, now);
      return;
    }
    const record = JSON.parse(text) as InstanceRecord;
    const prev = this.instances.get(leaf);
    const launchedAt = prev?.launchedAt ?? (record.state === 'launched' ? now : null);
    this.instances.set(leaf, { record, seenAt: prev?.seenAt ?? now, launchedAt });
    this.maxLaunched = Math.max(this.maxLaunched, this.launchedCount());
  }

  private applyPolicy(rest: string, text: string, deleted: boolean): void {
    const parts = rest.split('/');
    if (parts.length === 2 && parts[1] === 'cooldown') {
      if (deleted) this.cooldowns.delete(parts[0]!);
      else this.cooldowns.set(parts[0]!, JSON.parse(text) as CooldownRecord);
    } else if (parts.length === 3 && parts[1] === 'machine') {
      const id = `${parts[0]}/${parts[2]}`;
      if (deleted) this.machines.delete(id);
      else this.machines.set(id, JSON.parse(text) as StoredMachine);
    }
  }

  private applyDecision(text: string, deleted: boolean, now: number, revision: bigint): void {
    if (deleted) return; // trimmed old records: keep what we saw
    const record = JSON.parse(text) as DecisionRecord;
    if (this.decisions.has(record.id)) return;
    const observed = { record, seenAt: now, revision };
    this.decisions.set(record.id, observed);
    this.onDecision(observed);
  }

  /** A delete's revision is the deletion's own: it ends the pause set now. A new write ends it and starts another. */
  private applyPause(text: string, deleted: boolean, now: number, revision: bigint): void {
    const current = this.pause;
    if (current) {
      current.toRevision = revision;
      current.endedAt = now;
    }
    if (!deleted) this.pauses.push({ record: parsePauseRecord(this.service, text), fromRevision: revision, toRevision: null, seenAt: now, endedAt: null });
  }

  /** The pause set now, if any. */
  get pause(): ObservedPause | null {
    const last = this.pauses[this.pauses.length - 1];
    return last && last.toRevision === null ? last : null;
  }

  private applyRegistration(rest: string, text: string, deleted: boolean): void {
    const parts = rest.split('/');
    if (parts.length !== 2 || parts[1] !== 'service_instance_name') return;
    if (deleted) this.registrations.delete(parts[0]!);
    else this.registrations.set(parts[0]!, text.trim());
  }

  private applySample(rest: string, text: string, deleted: boolean, now: number): void {
    const parts = rest.split('/');
    if (parts.length !== 3 || deleted) return;
    const value = Number(text);
    if (!Number.isFinite(value)) return;
    this.samples += 1;
    const prev = this.latest.get(parts[0]!);
    if (!prev || prev.ts < parts[2]!) this.latest.set(parts[0]!, { ts: parts[2]!, value, at: now });
  }

  launchedCount(): number {
    let n = 0;
    for (const i of this.instances.values()) if (i.record.state === 'launched') n += 1;
    return n;
  }

  /** The uuid registered for an instance name (`webserver@8081.service`), if any. */
  uuidOf(instance: string): string | null {
    for (const [uuid, name] of this.registrations) {
      if (name === instance || `${name}.service` === instance) return uuid;
    }
    return null;
  }

  armed(now: number): ArmedView[] {
    const out: ArmedView[] = [];
    for (const [id, m] of this.machines) {
      const a = m.state?.armed;
      if (!a || a.expiresAt < now - 2000) continue;
      const [policy, machine] = id.split('/') as [string, string];
      out.push({ policy, machine, expiresAt: a.expiresAt, samples: a.samples });
    }
    return out.sort((x, y) => x.expiresAt - y.expiresAt);
  }
}
