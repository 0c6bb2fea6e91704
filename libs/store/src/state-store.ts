import { Range, type Etcd3 } from 'etcd3';
import { keys, parseCooldownKey, parseMachineKey, parseRunKey, TEMPLATE_LEAF } from '@dynamite/domain';
import {
  parseJson,
  type ActionRecord,
  type CooldownRecord,
  type InstanceRecord,
  type StoredMachine,
  type TemplateRecord,
} from './records';

/** A value read together with the revision it was last modified at (0 = absent), for compare-and-swap. */
export interface Versioned<T> {
  value: T | null;
  modRevision: string;
}

/** Everything recorded about one service at one etcd revision. */
export interface ServiceRecords {
  service: string;
  template: Versioned<TemplateRecord>;
  instances: InstanceRecord[];
}

export interface StoredMachineEntry { service: string; policy: string; machine: string; stored: StoredMachine }
export interface CooldownEntry { service: string; policy: string; cooldown: CooldownRecord }

/** One write of a transaction. */
export type Write = { put: string; value: string } | { del: string };

/**
 * The scheduler's leadership as a guard of its writes: every commit also requires that its election key still exists
 * with the create revision it had when elected. A scheduler whose lease ran out (SIGSTOP, a partition) finds its key
 * gone, so whatever it still tries to write fails in etcd itself.
 */
export interface WriteFence {
  key: string;
  createRevision: string;
  /** The holder's own view: false as soon as it knows, or must assume, that its lease is gone (nothing is sent). */
  holds(): boolean;
}

/** A write refused because the writer no longer leads (its election key is gone or was replaced). */
export class FencedWriteError extends Error {
  constructor(key: string, why: string) {
    super(`write refused: no longer the leader (${key}: ${why})`);
    this.name = 'FencedWriteError';
  }
}

/** A guard of a transaction: the key must still be at this mod revision ("0" = must not exist). */
export interface Guard {
  key: string;
  modRevision: string;
}

function modRev(kv: { mod_revision?: string | number | null } | undefined): string {
  return kv?.mod_revision ? String(kv.mod_revision) : '0';
}

/**
 * The /_dynamite layout in etcd, read and written as whole records. Every multi-key change is one transaction
 * guarded by the mod revisions the caller read, so concurrent workers can never commit on stale state: the loser
 * re-reads and decides again.
 */
export class StateStore {
  private fence: WriteFence | null = null;

  constructor(readonly etcd: Etcd3) {}

  /** Guards every later commit with the writer's leadership (null: unguarded, as workers are). */
  fenceWith(fence: WriteFence | null): void {
    this.fence = fence;
  }

  async getVersioned<T>(key: string): Promise<Versioned<T>> {
    const res = await this.etcd.get(key).exec();
    const kv = res.kvs[0];
    return { value: kv ? parseJson<T>(kv.value.toString('utf8')) : null, modRevision: modRev(kv) };
  }

  async getString(key: string): Promise<string | null> {
    return this.etcd.get(key).string();
  }

  /**
   * Applies writes if every guard holds; returns false when one moved (the caller retries). With a fence, throws
   * FencedWriteError when the writer no longer leads.
   */
  async commit(guards: Guard[], writes: Write[]): Promise<boolean> {
    const fence = this.fence;
    if (fence && !fence.holds()) throw new FencedWriteError(fence.key, 'the lease ran out');
    const compares: { key: string; target: 'Mod' | 'Create'; value: number }[] = guards.map((g) => ({ key: g.key, target: 'Mod', value: Number(g.modRevision) }));
    if (fence) compares.push({ key: fence.key, target: 'Create' as const, value: Number(fence.createRevision) });
    // Without guards: a comparison that always holds (any key's mod revision is > -1).
    const first = compares[0];
    let txn = first ? this.etcd.if(first.key, first.target, '==', first.value) : this.etcd.if(keys.root, 'Mod', '>', -1);
    for (const c of compares.slice(1)) txn = txn.and(c.key, c.target, '==', c.value);
    const ops = writes.map((w) => ('put' in w ? this.etcd.put(w.put).value(w.value) : this.etcd.delete().key(w.del)));
    // When it fails, the fence key tells whether the leadership or a guard moved.
    const res = await (fence ? txn.then(...ops).else(this.etcd.get(fence.key)) : txn.then(...ops)).commit();
    if (!res.succeeded && fence) {
      const kv = res.responses[0]?.response_range?.kvs[0];
      if (!kv || String(kv.create_revision) !== fence.createRevision) throw new FencedWriteError(fence.key, kv ? 'another campaign holds it' : 'the key is gone');
    }
    return res.succeeded;
  }

  // ---- services: template + instances -------------------------------------------------------------------

  async readService(service: string): Promise<ServiceRecords> {
    const res = await this.etcd.getAll().prefix(keys.servicePrefix(service)).exec();
    let template: Versioned<TemplateRecord> = { value: null, modRevision: '0' };
    const instances: InstanceRecord[] = [];
    for (const kv of res.kvs) {
      const leaf = parseRunKey(kv.key.toString('utf8'))?.leaf;
      if (leaf === undefined) continue;
      const text = kv.value.toString('utf8');
      if (leaf === TEMPLATE_LEAF) {
        template = { value: parseJson<TemplateRecord>(text), modRevision: modRev(kv) };
      } else {
        const record = parseJson<Partial<InstanceRecord>>(text);
        if (record) instances.push(normalizeInstance(leaf, record));
      }
    }
    return { service, template, instances };
  }

  /** Every service that has keys under /_dynamite/run/service/. */
  async recordedServices(): Promise<string[]> {
    const all = await this.etcd.getAll().prefix(keys.runPrefix).keys();
    return [...new Set(all.map((k) => parseRunKey(k)?.service).filter((s): s is string => s !== undefined))].sort();
  }

  // ---- policy state -------------------------------------------------------------------------------------

  readMachine(service: string, policy: string, machine: string): Promise<Versioned<StoredMachine>> {
    return this.getVersioned<StoredMachine>(keys.machine(service, policy, machine));
  }

  readCooldown(service: string, policy: string): Promise<Versioned<CooldownRecord>> {
    return this.getVersioned<CooldownRecord>(keys.cooldown(service, policy));
  }

  /**
   * Every stored state machine and cooldown, in one read of the policy prefix (for timers and cooldown ends to
   * re-create after a restart or a Redis wipe, and for the operator's views).
   */
  async listPolicyState(): Promise<{ machines: StoredMachineEntry[]; cooldowns: CooldownEntry[] }> {
    const all = await this.etcd.getAll().prefix(keys.policyPrefix).strings();
    const machines: StoredMachineEntry[] = [];
    const cooldowns: CooldownEntry[] = [];
    for (const [key, text] of Object.entries(all)) {
      const machine = parseMachineKey(key);
      const stored = machine ? parseJson<StoredMachine>(text) : null;
      if (machine && stored) machines.push({ ...machine, stored });
      const cooldownKey = parseCooldownKey(key);
      const cooldown = cooldownKey ? parseJson<CooldownRecord>(text) : null;
      if (cooldownKey && cooldown) cooldowns.push({ ...cooldownKey, cooldown });
    }
    return { machines, cooldowns };
  }

  // ---- actions ------------------------------------------------------------------------------------------

  readAction(service: string, decisionId: string): Promise<Versioned<ActionRecord>> {
    return this.getVersioned<ActionRecord>(keys.action(service, decisionId));
  }

  async listActions(service?: string): Promise<ActionRecord[]> {
    const all = await this.etcd.getAll().prefix(service ? keys.serviceActionsPrefix(service) : keys.actionsPrefix).strings();
    return Object.values(all)
      .map((t) => parseJson<ActionRecord>(t))
      .filter((a): a is ActionRecord => a !== null)
      .sort((a, b) => a.createdAt - b.createdAt || a.decisionId.localeCompare(b.decisionId));
  }

  // ---- decision records ---------------------------------------------------------------------------------

  /** Newest first. */
  async listDecisions<T>(service: string, limit: number): Promise<T[]> {
    const res = await this.etcd.getAll().prefix(keys.serviceDecisionsPrefix(service)).sort('Key', 'Descend').limit(limit).strings();
    return Object.entries(res)
      .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0))
      .map(([, text]) => parseJson<T>(text))
      .filter((r): r is NonNullable<typeof r> => r !== null) as T[];
  }

  /** Keeps the newest `keep` records of a service; returns how many were deleted. */
  async trimDecisions(service: string, keep: number): Promise<number> {
    const prefix = keys.serviceDecisionsPrefix(service);
    const all = await this.etcd.getAll().prefix(prefix).sort('Key', 'Descend').keys();
    const old = all.slice(keep);
    if (old.length === 0) return 0;
    const oldestKept = all[keep - 1];
    if (oldestKept === undefined) return 0;
    // Everything from the prefix up to (not including) the oldest record we keep.
    await this.etcd.delete().inRange(new Range(prefix, oldestKept)).exec();
    return old.length;
  }

  // ---- engine bookkeeping -------------------------------------------------------------------------------

  async readWatchRevision(): Promise<string | null> {
    return this.etcd.get(keys.watchRevision).string();
  }

  async writeWatchRevision(revision: string): Promise<void> {
    // A commit, so the scheduler's fence guards it.
    await this.commit([], [{ put: keys.watchRevision, value: revision }]);
  }

  async incrementStat(name: string, by = 1): Promise<void> {
    // A read-modify-write retried on conflict: counters shared by every process (e.g. rejected samples).
    for (let i = 0; i < 10; i += 1) {
      const current = await this.getVersioned<number>(keys.stat(name));
      const next = (typeof current.value === 'number' ? current.value : 0) + by;
      if (await this.commit([{ key: keys.stat(name), modRevision: current.modRevision }], [{ put: keys.stat(name), value: String(next) }])) return;
    }
  }

  async readStats(): Promise<Record<string, number>> {
    const all = await this.etcd.getAll().prefix(keys.stat('')).strings();
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(all)) out[key.slice(keys.stat('').length)] = Number(value) || 0;
    return out;
  }

  /** The current etcd revision (header of a cheap read). */
  async currentRevision(): Promise<string> {
    const res = await this.etcd.get(keys.applicationStatus).exec();
    return String(res.header.revision);
  }
}

/** Accepts the original's instance JSON (`attached_services` or the buggy `attached_service`) as well as ours. */
export function normalizeInstance(name: string, raw: Partial<InstanceRecord> & { attached_service?: unknown }): InstanceRecord {
  const attachedRaw = Array.isArray(raw.attached_services) ? raw.attached_services : Array.isArray(raw.attached_service) ? raw.attached_service : [];
  const attached = (attachedRaw as unknown[])
    .map((a) => (typeof a === 'string' ? { name: a, state: 'launched', attached_services: [] as [] } : (a as { name?: string; state?: string })))
    .filter((a): a is { name: string; state: string } => typeof a?.name === 'string')
    .map((a) => ({ name: a.name, state: a.state ?? 'launched', attached_services: [] as [] }));
  const state = raw.state === 'creating' || raw.state === 'destroying' ? raw.state : 'launched';
  const portMatch = /@(\d+)\.[a-z]+$/.exec(name);
  return {
    name,
    state,
    attached_services: attached,
    port: typeof raw.port === 'number' ? raw.port : portMatch ? Number(portMatch[1]) : null,
    created_at: typeof raw.created_at === 'number' ? raw.created_at : 0,
    decision_id: typeof raw.decision_id === 'string' ? raw.decision_id : null,
    origin: raw.origin ?? (raw.created_at === undefined ? 'legacy' : 'decision'),
  };
}
