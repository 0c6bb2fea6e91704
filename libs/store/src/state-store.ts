import { Range, type Etcd3 } from 'etcd3';
import type { IOperation } from 'etcd3/lib/builder';
import type { IKeyValue } from 'etcd3/lib/rpc';
import {
  idTimePart,
  keys,
  matchInstanceName,
  attachedProblem,
  parseActionKey,
  parseControlKey,
  parseCooldownKey,
  parseMachineKey,
  parseRunKey,
  prefixEnd,
  TEMPLATE_LEAF,
  type DecisionRecord,
  type InstanceNaming,
} from '@dynamite/domain';
import {
  RECORD_NAME,
  RecordProblem,
  REVISION,
  parseActionRecord,
  parseApplicationStatus,
  parseCooldownRecord,
  parseDecisionRecord,
  parseDryRunRecord,
  parsePauseRecord,
  parseProtectionRecord,
  parseInstanceRecord,
  parseStat,
  parseStoredMachine,
  parseStoredRevision,
  parseTemplateRecord,
  type ActionRecord,
  type ApplicationStatus,
  type CooldownRecord,
  type DryRunRecord,
  type InstanceRecord,
  type PauseRecord,
  type ProtectionRecord,
  type RecordKind,
  type RecordRejection,
  type RejectionSink,
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
  /** The mod revision of each instance record, by name. */
  instanceRevisions: Record<string, string>;
  controls: ControlRecords;
  /** The state machines of the policies asked for (readService's `machinesOf`), read at the same revision. */
  machines: StoredMachineEntry[];
}

/**
 * What operators set for a service, read with its records. A value is present exactly when its key is: a record
 * that fails its schema is reported and read as its safe side (the dry run on, a pause of both directions, the
 * instance protected), never as absent.
 */
export interface ControlRecords {
  dryRun: Versioned<DryRunRecord>;
  pause: Versioned<PauseRecord>;
  /** By instance name. */
  protections: Record<string, Versioned<ProtectionRecord>>;
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

/** What the service's template record says about the names of its instances. */
export function namingOfTemplate(service: string, template: TemplateRecord): InstanceNaming {
  const details = template.service_config_details as { name_of_unit_file: string; base_instance_prefix_number?: number | null; max_instance?: number | null; ports_per_instance?: number | null };
  return {
    service,
    isTemplate: template.is_template,
    unitFile: details.name_of_unit_file,
    basePort: details.base_instance_prefix_number ?? null,
    maxInstance: details.max_instance ?? 1,
    portsPerInstance: details.ports_per_instance ?? 1,
    attached: template.attached_services.map((a) => ({
      name: a.name,
      isTemplate: a.is_template,
      unitFile: (a.service_config_details as { name_of_unit_file: string }).name_of_unit_file,
    })),
  };
}

/** Why an instance record cannot belong to the service its template describes, or null. */
export function instanceProblem(naming: InstanceNaming, instance: InstanceRecord): string | null {
  const match = matchInstanceName(naming, instance.name);
  if (!match.ok) return match.problem;
  return attachedProblem(naming, instance.name, instance.attached_services.map((a) => a.name));
}

/**
 * The /_dynamite layout in etcd, read and written as whole records. Every multi-key change is one transaction
 * guarded by the mod revisions the caller read, so concurrent workers can never commit on stale state: the loser
 * re-reads and decides again.
 *
 * Every record read is checked (records.ts): one that fails is left out of the answer -- its mod revision is still
 * returned, so a guarded commit may replace it -- and reported to `onReject`.
 */
export class StateStore {
  private fence: WriteFence | null = null;

  constructor(readonly etcd: Etcd3, private readonly onReject: RejectionSink = () => undefined) {}

  /** Reports a record a caller refuses to act on (e.g. an instance outside its service's ports, never launched). */
  report(rejection: RecordRejection): void {
    this.onReject(rejection);
  }

  /** Parses a record, reporting and dropping it when it fails. */
  private accept<T>(kind: RecordKind, kv: IKeyValue, parse: (text: string) => T): T | null {
    try {
      return parse(kv.value.toString('utf8'));
    } catch (err) {
      if (!(err instanceof RecordProblem)) throw err;
      this.onReject({ kind, key: kv.key.toString('utf8'), modRevision: modRev(kv), reason: err.reason, message: err.message });
      return null;
    }
  }

  /** Guards every later commit with the writer's leadership (null: unguarded, as workers are). */
  fenceWith(fence: WriteFence | null): void {
    this.fence = fence;
  }

  private async readOne<T>(kind: RecordKind, key: string, parse: (text: string, currentRevision: string) => T): Promise<Versioned<T>> {
    const res = await this.etcd.get(key).exec();
    const kv = res.kvs[0];
    const current = String(res.header.revision);
    return { value: kv ? this.accept(kind, kv, (text) => parse(text, current)) : null, modRevision: modRev(kv) };
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

  /**
   * The service's template and its instances, read at one revision. An instance is kept only when it is one the
   * template's service would have: `<service>@<port>.service` (or its unit file), with its own attached units.
   */
  async readService(service: string, opts: { machinesOf?: string[] } = {}): Promise<ServiceRecords> {
    return (await this.readServiceWith(service, opts)).records;
  }

  /** An action and its service's records, in one transaction (what a fleet action is checked against). */
  async readActionAndService(service: string, decisionId: string): Promise<{ action: Versioned<ActionRecord>; records: ServiceRecords }> {
    const { records, extra } = await this.readServiceWith(service, { key: keys.action(service, decisionId) });
    const kv = extra?.kv;
    const action = { value: kv ? this.accept('action', kv, (text) => parseActionRecord({ service, decisionId }, text)) : null, modRevision: modRev(kv) };
    return { action, records };
  }

  private async readServiceWith(service: string, opts: { machinesOf?: string[]; key?: string }): Promise<{ records: ServiceRecords; extra: { kv: IKeyValue | undefined } | null }> {
    // One transaction of range reads: the records, the operator's controls and the machines asked for, all at one revision.
    const prefixes = [keys.servicePrefix(service), keys.serviceControlPrefix(service), ...(opts.machinesOf ?? []).map((p) => keys.machinePrefix(service, p))];
    const res = await this.etcd.kv.txn({
      compare: [],
      success: [
        ...prefixes.map((p) => ({ request_range: { key: Buffer.from(p), range_end: Buffer.from(prefixEnd(p), 'latin1') } })),
        { request_range: { key: Buffer.from(keys.dryRun) } },
        ...(opts.key !== undefined ? [{ request_range: { key: Buffer.from(opts.key) } }] : []),
      ],
      failure: [],
    });
    const all = res.responses.map((r) => r.response_range.kvs);
    const extra = opts.key !== undefined ? { kv: all.pop()?.[0] } : null;
    const dryRunKv = all.pop()?.[0];
    const records = this.recordsOf(service, { service: all[0] ?? [], controls: all[1] ?? [], machines: all.slice(2).flat(), dryRun: dryRunKv }, String(res.header.revision));
    return { records, extra };
  }

  /**
   * The records of many services, for a look over all of them (a reconcile deciding which services need work): the
   * ranges sent MAX_TXN_OPS to a transaction, so two services may be read at different revisions. Work on a service
   * reads it again on its own (readService), guarded as always.
   */
  async readServices(services: string[]): Promise<Map<string, ServiceRecords>> {
    const queries = services.flatMap((service) => [keys.servicePrefix(service), keys.serviceControlPrefix(service)]);
    const [read, dryRun] = await Promise.all([
      readInTransactions(this.etcd, queries, (prefix) => this.etcd.getAll().prefix(prefix)),
      this.etcd.get(keys.dryRun).exec(),
    ]);
    const out = new Map<string, ServiceRecords>();
    services.forEach((service, i) => {
      const own = read[2 * i]!;
      out.set(service, this.recordsOf(service, { service: own.kvs, controls: read[2 * i + 1]!.kvs, machines: [], dryRun: dryRun.kvs[0] }, own.revision));
    });
    return out;
  }

  /** A service's records from the key-values read: its run prefix, its controls, the machines asked for, the dry run. */
  private recordsOf(service: string, kvs: { service: IKeyValue[]; controls: IKeyValue[]; machines: IKeyValue[]; dryRun: IKeyValue | undefined }, current: string): ServiceRecords {
    const controls = this.controlsOf(service, kvs.controls, kvs.dryRun);
    const machines: StoredMachineEntry[] = [];
    for (const kv of kvs.machines) {
      const machine = parseMachineKey(kv.key.toString('utf8'));
      const stored = machine ? this.accept('machine', kv, (text) => checkCursor(parseStoredMachine(text), current)) : null;
      if (machine && stored) machines.push({ ...machine, stored });
    }
    let template: Versioned<TemplateRecord> = { value: null, modRevision: '0' };
    const candidates: { kv: IKeyValue; instance: InstanceRecord }[] = [];
    for (const kv of kvs.service) {
      const leaf = parseRunKey(kv.key.toString('utf8'))?.leaf;
      if (leaf === undefined) continue;
      if (leaf === TEMPLATE_LEAF) {
        template = { value: this.accept('template', kv, (text) => parseTemplateRecord(service, text)), modRevision: modRev(kv) };
      } else {
        const instance = this.accept('instance', kv, (text) => parseInstanceRecord(leaf, text));
        if (instance) candidates.push({ kv, instance });
      }
    }
    const naming = template.value ? namingOfTemplate(service, template.value) : null;
    const instances: InstanceRecord[] = [];
    const instanceRevisions: Record<string, string> = {};
    for (const { kv, instance } of candidates) {
      const member = this.accept('instance', kv, () => {
        const problem = naming ? instanceProblem(naming, instance) : null;
        if (problem !== null) throw new RecordProblem('not_an_instance', problem);
        return instance;
      });
      if (member === null) continue;
      instances.push(member);
      instanceRevisions[member.name] = modRev(kv);
    }
    return { service, template, instances, instanceRevisions, controls, machines };
  }

  /** The control records read with a service; one that fails its schema is its safe side (see ControlRecords). */
  private controlsOf(service: string, kvs: IKeyValue[], dryRunKv: IKeyValue | undefined): ControlRecords {
    const dryRun: Versioned<DryRunRecord> = dryRunKv
      ? { value: this.accept('dry_run', dryRunKv, parseDryRunRecord) ?? { at: 0, by: null }, modRevision: modRev(dryRunKv) }
      : { value: null, modRevision: '0' };
    let pause: Versioned<PauseRecord> = { value: null, modRevision: '0' };
    const protections: Record<string, Versioned<ProtectionRecord>> = {};
    for (const kv of kvs) {
      const key = parseControlKey(kv.key.toString('utf8'));
      if (key === null || key.service !== service) continue;
      if (key.kind === 'pause') {
        const record = this.accept('pause', kv, (text) => parsePauseRecord(service, text));
        pause = {
          value: record ?? { service, directions: ['up', 'down'], reason: 'the pause record cannot be read; resume to clear it', until: null, at: 0, by: null },
          modRevision: modRev(kv),
        };
      } else {
        const record = this.accept('protection', kv, (text) => parseProtectionRecord({ service, instance: key.instance }, text));
        protections[key.instance] = { value: record ?? { service, instance: key.instance, reason: null, at: 0, by: null }, modRevision: modRev(kv) };
      }
    }
    return { dryRun, pause, protections };
  }

  // ---- operator controls --------------------------------------------------------------------------------

  /** Sets (or replaces) the service's pause. */
  async writePause(record: PauseRecord): Promise<void> {
    await this.commit([], [{ put: keys.pause(record.service), value: JSON.stringify(record) }]);
  }

  /** Removes the service's pause; false when there was none. */
  async deletePause(service: string): Promise<boolean> {
    const res = await this.etcd.delete().key(keys.pause(service)).exec();
    return Number(res.deleted) > 0;
  }

  async writeProtection(record: ProtectionRecord): Promise<void> {
    await this.commit([], [{ put: keys.protection(record.service, record.instance), value: JSON.stringify(record) }]);
  }

  /** Removes an instance's protection; false when it had none. */
  async deleteProtection(service: string, instance: string): Promise<boolean> {
    const res = await this.etcd.delete().key(keys.protection(service, instance)).exec();
    return Number(res.deleted) > 0;
  }

  /** The engine-wide dry run: its record when on (an unreadable one counts as on), null when off. */
  async readDryRun(): Promise<DryRunRecord | null> {
    const res = await this.etcd.get(keys.dryRun).exec();
    const kv = res.kvs[0];
    return kv ? this.accept('dry_run', kv, parseDryRunRecord) ?? { at: 0, by: null } : null;
  }

  /** Sets the engine-wide dry run (a record) or clears it (null). A scheduler's store is fenced by its leadership. */
  async writeDryRun(record: DryRunRecord | null): Promise<void> {
    await this.commit([], [record === null ? { del: keys.dryRun } : { put: keys.dryRun, value: JSON.stringify(record) }]);
  }

  /** Every service that has keys under /_dynamite/run/service/; a name that is not a fleet name is reported and left out. */
  async recordedServices(): Promise<string[]> {
    const res = await this.etcd.kv.range({ key: Buffer.from(keys.runPrefix), range_end: Buffer.from(prefixEnd(keys.runPrefix), 'latin1'), keys_only: true });
    const names = new Set<string>();
    for (const kv of res.kvs) {
      const parsed = parseRunKey(kv.key.toString('utf8'));
      if (parsed === null) continue;
      const { service } = parsed;
      const ok = this.accept(parsed.leaf === TEMPLATE_LEAF ? 'template' : 'instance', kv, () => {
        if (!RECORD_NAME.test(service)) throw new RecordProblem('invalid', `the key's service name ${JSON.stringify(service)} is not a fleet name`);
        return service;
      });
      if (ok !== null) names.add(ok);
    }
    return [...names].sort();
  }

  // ---- policy state -------------------------------------------------------------------------------------

  /** A stored machine; one whose cursor is a revision etcd has not reached (it would never read a sample) is rejected. */
  readMachine(service: string, policy: string, machine: string): Promise<Versioned<StoredMachine>> {
    return this.readOne('machine', keys.machine(service, policy, machine), (text, current) => checkCursor(parseStoredMachine(text), current));
  }

  readCooldown(service: string, policy: string): Promise<Versioned<CooldownRecord>> {
    return this.readOne('cooldown', keys.cooldown(service, policy), parseCooldownRecord);
  }

  /**
   * The stored state of many machines and their policies' cooldowns, in as few round trips as etcd allows (one
   * transaction per MAX_TXN_OPS keys): what a batch of policy checks decides on.
   */
  async readMachinesAndCooldowns(refs: { service: string; policy: string; machine: string }[]): Promise<{
    machines: Versioned<StoredMachine>[];
    cooldown(service: string, policy: string): Versioned<CooldownRecord>;
  }> {
    const cooldownKeys = [...new Set(refs.map((r) => keys.cooldown(r.service, r.policy)))];
    const read = await readKeys(this.etcd, [...refs.map((r) => keys.machine(r.service, r.policy, r.machine)), ...cooldownKeys]);
    const machines = refs.map((_, i) => {
      const { kv, revision } = read[i]!;
      return { value: kv ? this.accept('machine', kv, (text) => checkCursor(parseStoredMachine(text), revision)) : null, modRevision: modRev(kv) };
    });
    const cooldowns = new Map(cooldownKeys.map((key, i) => {
      const { kv } = read[refs.length + i]!;
      return [key, { value: kv ? this.accept('cooldown', kv, parseCooldownRecord) : null, modRevision: modRev(kv) }] as const;
    }));
    return { machines, cooldown: (service, policy) => cooldowns.get(keys.cooldown(service, policy))! };
  }

  /**
   * Every stored state machine and cooldown, in one read of the policy prefix (for timers and cooldown ends to
   * re-create after a restart or a Redis wipe, and for the operator's views); with `service`, only that service's.
   */
  async listPolicyState(service?: string): Promise<{ machines: StoredMachineEntry[]; cooldowns: CooldownEntry[] }> {
    const res = await this.etcd.getAll().prefix(service === undefined ? keys.policyPrefix : keys.servicePolicyPrefix(service)).exec();
    const current = String(res.header.revision);
    const machines: StoredMachineEntry[] = [];
    const cooldowns: CooldownEntry[] = [];
    for (const kv of res.kvs) {
      const key = kv.key.toString('utf8');
      const machine = parseMachineKey(key);
      if (machine) {
        const stored = this.accept('machine', kv, (text) => checkCursor(parseStoredMachine(text), current));
        if (stored) machines.push({ ...machine, stored });
      }
      const cooldownKey = parseCooldownKey(key);
      if (cooldownKey) {
        const cooldown = this.accept('cooldown', kv, parseCooldownRecord);
        if (cooldown) cooldowns.push({ ...cooldownKey, cooldown });
      }
    }
    return { machines, cooldowns };
  }

  // ---- actions ------------------------------------------------------------------------------------------

  readAction(service: string, decisionId: string): Promise<Versioned<ActionRecord>> {
    return this.readOne('action', keys.action(service, decisionId), (text) => parseActionRecord({ service, decisionId }, text));
  }

  async listActions(service?: string): Promise<ActionRecord[]> {
    const res = await this.etcd.getAll().prefix(service ? keys.serviceActionsPrefix(service) : keys.actionsPrefix).exec();
    const actions: ActionRecord[] = [];
    for (const kv of res.kvs) {
      const key = parseActionKey(kv.key.toString('utf8'));
      if (!key) continue;
      const action = this.accept('action', kv, (text) => parseActionRecord(key, text));
      if (action) actions.push(action);
    }
    return actions.sort((a, b) => a.createdAt - b.createdAt || a.decisionId.localeCompare(b.decisionId));
  }

  // ---- decision records ---------------------------------------------------------------------------------

  /** Newest first. */
  async listDecisions(service: string, limit: number): Promise<DecisionRecord[]> {
    const prefix = keys.serviceDecisionsPrefix(service);
    const res = await this.etcd.getAll().prefix(prefix).sort('Key', 'Descend').limit(limit).exec();
    const out: DecisionRecord[] = [];
    for (const kv of res.kvs) {
      const id = kv.key.toString('utf8').slice(prefix.length);
      const record = this.accept('decision', kv, (text) => parseDecisionRecord({ service, id }, text));
      if (record) out.push(record);
    }
    return out.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  /**
   * The newest `limit` records of a service dated at or after `sinceMs`, newest first: one range read from the id
   * of that time (record ids start with their time), however many older records etcd keeps.
   */
  async listDecisionsSince(service: string, sinceMs: number, limit: number): Promise<DecisionRecord[]> {
    const prefix = keys.serviceDecisionsPrefix(service);
    const res = await this.etcd.getAll().inRange(new Range(`${prefix}${idTimePart(sinceMs)}`, Buffer.from(prefixEnd(prefix), 'latin1'))).sort('Key', 'Descend').limit(limit).exec();
    const out: DecisionRecord[] = [];
    for (const kv of res.kvs) {
      const id = kv.key.toString('utf8').slice(prefix.length);
      const record = this.accept('decision', kv, (text) => parseDecisionRecord({ service, id }, text));
      if (record && record.at >= sinceMs) out.push(record);
    }
    return out.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
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

  /**
   * The revision the scheduler's watch handled last, or null when there is none -- or none to trust: a value that
   * is not a decimal revision, or one ahead of etcd's current revision (it would watch a future that never
   * comes), is reported and counts as missing.
   */
  async readWatchRevision(): Promise<{ revision: string | null; current: string }> {
    const res = await this.etcd.get(keys.watchRevision).exec();
    const current = String(res.header.revision);
    const kv = res.kvs[0];
    return { revision: kv ? this.accept('watch_revision', kv, (text) => parseStoredRevision(text, current)) : null, current };
  }

  async writeWatchRevision(revision: string): Promise<void> {
    // A commit, so the scheduler's fence guards it.
    await this.commit([], [{ put: keys.watchRevision, value: revision }]);
  }

  /** `/_dynamite/state/application_status`: absent (never started here), a known status, or `unreadable`. */
  async readApplicationStatus(): Promise<ApplicationStatus | 'unreadable' | null> {
    const res = await this.etcd.get(keys.applicationStatus).exec();
    const kv = res.kvs[0];
    if (!kv) return null;
    return this.accept('application_status', kv, parseApplicationStatus) ?? 'unreadable';
  }

  async incrementStat(name: string, by = 1): Promise<void> {
    // A read-modify-write retried on conflict: counters shared by every process (e.g. rejected samples). A counter
    // that is not a number (reported) starts again from 0.
    for (let i = 0; i < 10; i += 1) {
      const current = await this.readOne('stats', keys.stat(name), parseStat);
      const next = (current.value ?? 0) + by;
      if (await this.commit([{ key: keys.stat(name), modRevision: current.modRevision }], [{ put: keys.stat(name), value: String(next) }])) return;
    }
  }

  /** The current etcd revision (header of a cheap read). */
  async currentRevision(): Promise<string> {
    const res = await this.etcd.get(keys.applicationStatus).exec();
    return String(res.header.revision);
  }
}

/** A decimal cursor must be a revision etcd has reached (a non-decimal one is an older version's, started over). */
/**
 * Operations etcd accepts in one transaction (its --max-txn-ops default; compares and each branch are limited
 * separately). Batched reads and commits stay within it.
 */
export const MAX_TXN_OPS = 128;

/**
 * Sends many range reads at once: one transaction per MAX_TXN_OPS of them (a comparison that always holds: the
 * transaction is only a way to send them in one round trip). Each answer comes with the revision it was read at.
 */
export async function readInTransactions<Q>(
  etcd: Etcd3,
  queries: Q[],
  rangeOf: (query: Q) => IOperation,
): Promise<{ kvs: IKeyValue[]; revision: string }[]> {
  const chunks: Q[][] = [];
  for (let i = 0; i < queries.length; i += MAX_TXN_OPS) chunks.push(queries.slice(i, i + MAX_TXN_OPS));
  const answers = await Promise.all(chunks.map(async (chunk) => {
    const res = await etcd.if(keys.root, 'Mod', '>', -1).then(...chunk.map(rangeOf)).commit();
    const revision = String(res.header.revision);
    return chunk.map((_, i) => ({ kvs: res.responses[i]?.response_range?.kvs ?? [], revision }));
  }));
  return answers.flat();
}

/** Reads single keys in transactions (readInTransactions); each value comes with the revision it was read at. */
export async function readKeys(etcd: Etcd3, keyList: string[]): Promise<{ kv: IKeyValue | undefined; revision: string }[]> {
  const read = await readInTransactions(etcd, keyList, (key) => etcd.get(key));
  return read.map(({ kvs, revision }) => ({ kv: kvs[0], revision }));
}

function checkCursor(stored: StoredMachine, current: string): StoredMachine {
  if (stored.cursor !== null && REVISION.test(stored.cursor)) parseStoredRevision(stored.cursor, current);
  return stored;
}
