import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { keys, parseActionKey, parseMachineKey, parseRunKey, TEMPLATE_LEAF, type DecisionRecord } from '@dynamite/domain';
import { createWatch, type ActionRecord, type InstanceRecord, type StoredMachine } from '@dynamite/store';
import { CHAOS_SERVICES, instanceOfUnit, serviceOfUnit, type ChaosService } from './load';

/**
 * The invariants of a chaos run, checked all along on exact histories rather than on polls that could miss a
 * moment: every revision of `/_dynamite` through an etcd watch (each transaction's writes arrive together), and
 * every unit the emulator created or destroyed through its `/emulator/history`. Checked:
 *   bounds-etcd    at every revision: a service's recorded instances within max (all of them: each holds a port
 *                  slot), its active ones (creating + launched) within min and max, its launched ones >= min, once
 *                  it first reached min;
 *   bounds-fleet   at every unit created or destroyed: a service's instance units in fleet within min and max;
 *   instance       an instance record appears only with the scale-up action that decided it (same transaction),
 *                  is removed only after its scale down (destroying), and never goes back (launched -> creating);
 *   decision       every decision with an action (scaled, bound_repair) commits exactly that action in the same
 *                  transaction, and every action has its decision; an action done stays done;
 *   cursor         no sample evaluated twice: a state machine's cursor (the etcd revision of the newest sample it
 *                  read) and its newest sample time never go back, so no two commits read the same sample;
 *   unit-created   each fleet unit created is backed by its own scale-up action: creations of a unit never outnumber
 *                  the scale ups of its instance (a unit created twice, or by no decision, is a violation); no unit
 *                  is replaced;
 *   settled        (at the end) recorded instances equal fleet's units, every action done or failed with an
 *                  `action_failed` record.
 */

export interface Violation {
  /** ms since the faults started (negative: during the start). */
  atMs: number;
  check: string;
  detail: string;
}

interface ActionSeen extends ActionRecord {
  createdRevision: string;
}

const DYNAMITE_PREFIX = keys.root;
const DECISION_PREFIX = keys.decisionsPrefix;
const STAT_PREFIX = keys.stat('');

export class InvariantChecker {
  readonly checks: Record<string, number> = {};
  readonly violations: Violation[] = [];
  /** Samples whose key was written more than once (a producer's put retried by the client): evaluated again by design. */
  sampleRewrites = 0;
  samplesSeen = 0;
  /** etcd revision up to which the mirror is applied. */
  revision = 0n;

  private readonly instances = new Map<string, Map<string, InstanceRecord>>();
  private readonly machines = new Map<string, StoredMachine>();
  private readonly actions = new Map<string, ActionSeen>();
  private readonly decisions = new Map<string, DecisionRecord>();
  private readonly actionEnds = new Map<string, 'action_done' | 'action_failed'>();
  private readonly stats = new Map<string, number>();
  private readonly minReached = { etcd: new Set<string>(), fleet: new Set<string>() };
  /** Fleet's units now, as the emulator's history says. */
  readonly fleetUnits = new Set<string>();
  private readonly creations = new Map<string, number>();
  private readonly scaleUps = new Map<string, number>();
  private unbacked: { unit: string; at: number; deadline: number }[] = [];
  private historySeq = 0;
  /** When the mirror last changed (instances, actions or fleet units), for settling. */
  lastChangeAt = Date.now();
  private watchers: Watcher[] = [];
  private poll: NodeJS.Timeout | null = null;
  private polling = false;
  private stopped = false;

  /**
   * `unbackedGraceMs`: how long a fleet unit may wait for the etcd watch to show the scale up that created it (the
   * action is written before the unit, but the watch may lag).
   */
  constructor(private readonly etcd: Etcd3, private readonly emulatorUrl: string, private readonly t0: () => number, private readonly unbackedGraceMs = 10_000) {}

  private count(check: string, n = 1): void {
    this.checks[check] = (this.checks[check] ?? 0) + n;
  }

  private violation(check: string, detail: string, at = Date.now()): void {
    this.violations.push({ atMs: at - this.t0(), check, detail });
  }

  /** Starts watching from `revision` + 1 (the revision before any engine process ran) and polling fleet's history. */
  async start(revision: string): Promise<void> {
    this.revision = BigInt(revision);
    // createWatch: etcd3's own resume skips events after etcd restarts (libs/store/src/watch.ts).
    const engine = await createWatch(this.etcd.watch().prefix(DYNAMITE_PREFIX).startRevision(String(this.revision + 1n)));
    engine.on('data', (res) => this.onEngineEvents(res.events));
    const samples = await createWatch(this.etcd.watch().prefix('/metrics/').startRevision(String(this.revision + 1n)));
    samples.on('put', (kv) => {
      this.samplesSeen += 1;
      if (Number(kv.version) > 1) this.sampleRewrites += 1;
    });
    this.watchers = [engine, samples];
    this.poll = setInterval(() => {
      if (this.polling || this.stopped) return;
      this.polling = true;
      this.pollFleet().catch(() => undefined).finally(() => { this.polling = false; });
    }, 200);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    await Promise.all(this.watchers.map((w) => w.cancel().catch(() => undefined)));
  }

  // ---- etcd: every revision of /_dynamite ---------------------------------------------------------------------

  private onEngineEvents(events: { type: string; kv: IKeyValue }[]): void {
    // One watch answer never splits a revision: group by revision, check after each whole transaction.
    let group: { type: string; kv: IKeyValue }[] = [];
    for (const e of events) {
      if (group.length > 0 && group[0]!.kv.mod_revision !== e.kv.mod_revision) {
        this.applyRevision(group);
        group = [];
      }
      group.push(e);
    }
    if (group.length > 0) this.applyRevision(group);
  }

  private applyRevision(events: { type: string; kv: IKeyValue }[]): void {
    const revision = BigInt(events[0]!.kv.mod_revision);
    if (revision <= this.revision) return;
    this.revision = revision;
    const touched = new Set<string>();
    const createdInstances = new Map<string, InstanceRecord>();
    const markedDestroying = new Map<string, InstanceRecord>();
    const createdActions: ActionSeen[] = [];
    const actedDecisions: DecisionRecord[] = [];
    for (const { type, kv } of events) {
      const key = kv.key.toString('utf8');
      const put = type === 'Put';
      const text = kv.value.toString('utf8');
      const version = Number(kv.version);
      const run = parseRunKey(key);
      if (run) {
        if (run.leaf === TEMPLATE_LEAF || !CHAOS_SERVICES.some((s) => s.name === run.service)) continue;
        touched.add(run.service);
        const own = this.instances.get(run.service) ?? new Map<string, InstanceRecord>();
        this.instances.set(run.service, own);
        const before = own.get(run.leaf);
        if (!put) {
          this.count('instance');
          if (before?.state !== 'destroying') this.violation('instance', `${run.service}: ${run.leaf} removed while ${before?.state ?? 'unknown'} (only a scale down, after marking it destroying, removes an instance) at revision ${revision}`);
          own.delete(run.leaf);
          continue;
        }
        const record = JSON.parse(text) as InstanceRecord;
        own.set(run.leaf, record);
        this.count('instance');
        if (version === 1) createdInstances.set(`${run.service}/${run.leaf}`, record);
        else if (before && rank(record.state) < rank(before.state)) this.violation('instance', `${run.service}: ${run.leaf} went back from ${before.state} to ${record.state} at revision ${revision}`);
        if (record.state === 'destroying' && before?.state !== 'destroying') markedDestroying.set(`${run.service}/${run.leaf}`, record);
        continue;
      }
      const machine = parseMachineKey(key);
      if (machine) {
        this.count('cursor');
        const before = this.machines.get(key);
        if (!put) {
          // Idle machines are collected after max(metrics_retention, 10 min) without an update: their samples are gone.
          if (before && Date.now() - before.updatedAt < 600_000) this.violation('cursor', `state machine ${key} deleted at revision ${revision} while its samples may remain: it would start over and may read a sample again`);
          this.machines.delete(key);
          continue;
        }
        const next = JSON.parse(text) as StoredMachine;
        if (before) {
          if (before.cursor !== null && (next.cursor === null || BigInt(next.cursor) < BigInt(before.cursor))) {
            this.violation('cursor', `state machine ${key}: cursor went back from ${before.cursor} to ${next.cursor} at revision ${revision}: samples after ${next.cursor} would be evaluated twice`);
          }
          if (before.state.lastSeenTs !== null && (next.state.lastSeenTs === null || next.state.lastSeenTs < before.state.lastSeenTs)) {
            this.violation('cursor', `state machine ${key}: newest sample went back from ${before.state.lastSeenKey} to ${next.state.lastSeenKey} at revision ${revision}`);
          }
        }
        this.machines.set(key, next);
        continue;
      }
      const action = parseActionKey(key);
      if (action && put) {
        this.count('decision');
        const record = { ...(JSON.parse(text) as ActionRecord), createdRevision: String(kv.create_revision) };
        const id = `${action.service}/${action.decisionId}`;
        const before = this.actions.get(id);
        if (before?.status === 'done' && (record.status !== 'done' || JSON.stringify(record.result) !== JSON.stringify(before.result))) {
          this.violation('decision', `action ${id} (${record.kind} ${record.instance}) changed after it was done: ${before.status} -> ${record.status}`);
        }
        this.actions.set(id, record);
        if (version === 1) createdActions.push(record);
        continue;
      }
      if (key.startsWith(DECISION_PREFIX) && put) {
        const record = JSON.parse(text) as DecisionRecord;
        const [service] = key.slice(DECISION_PREFIX.length).split('/');
        this.decisions.set(`${service}/${record.id}`, record);
        if ((record.outcome === 'scaled' || record.outcome === 'bound_repair') && record.action) actedDecisions.push(record);
        if (record.outcome === 'action_done' || record.outcome === 'action_failed') {
          const decisionId = String(record.inputs['decisionId']);
          if (this.actionEnds.get(`${service}/${decisionId}`) !== 'action_done') this.actionEnds.set(`${service}/${decisionId}`, record.outcome);
        }
        continue;
      }
      if (key.startsWith(STAT_PREFIX) && put) this.stats.set(key.slice(STAT_PREFIX.length), Number(text));
    }

    // One decision, one action, in the same transaction; the instance record it decides on with it.
    for (const d of actedDecisions) {
      this.count('decision');
      const action = this.actions.get(`${d.service}/${d.id}`);
      if (!action) this.violation('decision', `decision ${d.service}/${d.id} (${d.outcome} ${d.action!.kind} ${d.action!.instance}) has no action (revision ${revision})`);
      else if (action.kind !== d.action!.kind || action.instance !== d.action!.instance) {
        this.violation('decision', `decision ${d.service}/${d.id} says ${d.action!.kind} ${d.action!.instance}, its action ${action.kind} ${action.instance}`);
      }
    }
    for (const a of createdActions) {
      this.count('decision');
      const id = `${a.service}/${a.decisionId}`;
      const decided = this.decisions.get(id);
      if (!decided || !actedDecisions.includes(decided)) this.violation('decision', `action ${id} (${a.kind} ${a.instance}) created at revision ${revision} without its decision record in the same transaction`);
      if (a.kind === 'scale_up') {
        this.scaleUps.set(a.instance, (this.scaleUps.get(a.instance) ?? 0) + 1);
        if (!createdInstances.delete(`${a.service}/${a.instance}`)) {
          this.violation('instance', `scale up ${id} of ${a.instance} at revision ${revision}: the instance was not created with it (it existed already: created twice)`);
        }
      } else if (!markedDestroying.has(`${a.service}/${a.instance}`)) {
        this.violation('instance', `scale down ${id} of ${a.instance} at revision ${revision} did not mark the instance destroying`);
      }
    }
    for (const [name, record] of createdInstances) {
      this.violation('instance', `instance ${name} recorded at revision ${revision} without a scale-up decision (origin ${record.origin ?? '?'}): fleet ran a unit the engine did not know`);
    }
    if (touched.size > 0 || createdActions.length > 0) this.lastChangeAt = Date.now();
    for (const service of touched) this.checkEtcdBounds(service, revision);
  }

  private checkEtcdBounds(service: string, revision: bigint): void {
    const s = CHAOS_SERVICES.find((x) => x.name === service)!;
    const all = [...(this.instances.get(service)?.values() ?? [])];
    const launched = all.filter((i) => i.state === 'launched').length;
    const active = launched + all.filter((i) => i.state === 'creating').length;
    this.count('bounds-etcd');
    if (all.length > s.max) this.violation('bounds-etcd', `${service}: ${all.length} instances recorded (${describe(all)}), max ${s.max}, at revision ${revision}`);
    if (launched >= s.min) this.minReached.etcd.add(service);
    if (this.minReached.etcd.has(service) && (launched < s.min || active < s.min)) {
      this.violation('bounds-etcd', `${service}: ${launched} launched, ${active} active (${describe(all)}), min ${s.min}, at revision ${revision}`);
    }
  }

  // ---- fleet: every unit created or destroyed ---------------------------------------------------------------

  private async pollFleet(): Promise<void> {
    for (;;) {
      const res = await fetch(`${this.emulatorUrl}/emulator/history?after=${this.historySeq}`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json()) as { changes: { seq: number; at: number; unit: string; change: string }[]; last: number; oldest: number };
      if (body.oldest > this.historySeq + 1) this.violation('unit-created', `the emulator's history lost changes ${this.historySeq + 1}-${body.oldest - 1}: the check is incomplete`);
      for (const c of body.changes) this.applyUnitChange(c);
      if (body.changes.length === 0 || this.historySeq >= body.last) break;
    }
    const now = Date.now();
    this.unbacked = this.unbacked.filter((u) => {
      if (this.backed(u.unit)) return false;
      if (now < u.deadline) return true;
      this.violation('unit-created', `${u.unit} created ${this.creations.get(u.unit)} times, but its instance ${instanceOfUnit(u.unit)} was decided ${this.scaleUps.get(instanceOfUnit(u.unit)) ?? 0} time(s): a unit created twice, or without a decision`, u.at);
      return false;
    });
  }

  private backed(unit: string): boolean {
    return (this.creations.get(unit) ?? 0) <= (this.scaleUps.get(instanceOfUnit(unit)) ?? 0);
  }

  private applyUnitChange(c: { seq: number; at: number; unit: string; change: string }): void {
    this.historySeq = c.seq;
    this.lastChangeAt = Date.now();
    this.count('unit-created');
    if (c.change === 'replaced') {
      this.violation('unit-created', `${c.unit} replaced with other options`, c.at);
      return;
    }
    if (c.change === 'created') {
      this.fleetUnits.add(c.unit);
      this.creations.set(c.unit, (this.creations.get(c.unit) ?? 0) + 1);
      if (!this.backed(c.unit)) this.unbacked.push({ unit: c.unit, at: c.at, deadline: Date.now() + this.unbackedGraceMs });
    } else {
      this.fleetUnits.delete(c.unit);
    }
    const service = serviceOfUnit(c.unit);
    if (!service) return;
    const n = this.unitsOf(service).length;
    this.count('bounds-fleet');
    if (n > service.max) this.violation('bounds-fleet', `${service.name}: ${n} units in fleet after ${c.unit} was ${c.change} (${this.unitsOf(service).join(', ')}), max ${service.max}`, c.at);
    if (n >= service.min) this.minReached.fleet.add(service.name);
    if (this.minReached.fleet.has(service.name) && n < service.min) this.violation('bounds-fleet', `${service.name}: ${n} units in fleet after ${c.unit} was ${c.change}, min ${service.min}`, c.at);
  }

  private unitsOf(service: ChaosService): string[] {
    return [...this.fleetUnits].filter((u) => u.startsWith(`${service.name}@`)).sort();
  }

  // ---- the end ------------------------------------------------------------------------------------------------

  /** Actions not finished yet (pending). */
  pendingActions(): ActionSeen[] {
    return [...this.actions.values()].filter((a) => a.status === 'pending');
  }

  /** Fetches the emulator's history now (so a settle decision sees every change so far). */
  async catchUp(): Promise<void> {
    while (this.polling) await new Promise((r) => setTimeout(r, 20));
    this.polling = true;
    try {
      await this.pollFleet();
    } finally {
      this.polling = false;
    }
  }

  /**
   * After settling: the mirror agrees with etcd and fleet as they are now, recorded instances equal fleet's units,
   * every action ended (done, or failed with its record), every service reached min_instance.
   */
  async checkSettled(): Promise<{ failedActions: ActionSeen[] }> {
    await this.catchUp();
    // The mirrors themselves: etcd's instance records at the mirrored revision, and fleet's unit list.
    const rev = String(this.revision);
    const recorded = await this.etcd.getAll().prefix(keys.runPrefix).revision(rev).strings();
    const mirrored = new Map<string, string>();
    for (const [service, own] of this.instances) for (const [leaf, record] of own) mirrored.set(keys.instance(service, leaf), record.state);
    const inEtcd = Object.entries(recorded).filter(([k]) => !k.endsWith(`/${TEMPLATE_LEAF}`) && CHAOS_SERVICES.some((s) => k.startsWith(keys.servicePrefix(s.name))));
    this.count('settled');
    const etcdText = inEtcd.map(([k, v]) => `${k}=${(JSON.parse(v) as InstanceRecord).state}`).sort().join(', ');
    const mirrorText = [...mirrored].map(([k, v]) => `${k}=${v}`).sort().join(', ');
    if (etcdText !== mirrorText) this.violation('settled', `the checker's etcd mirror differs from etcd at revision ${rev}: etcd ${etcdText}; mirror ${mirrorText}`);
    const res = await fetch(`${this.emulatorUrl}/fleet/v1/units`, { signal: AbortSignal.timeout(5_000) });
    const listed = ((await res.json()) as { units?: { name: string; currentState: string }[] }).units ?? [];
    const listedNames = listed.map((u) => u.name).sort();
    if (listedNames.join() !== [...this.fleetUnits].sort().join()) this.violation('settled', `the checker's fleet mirror differs from fleet: fleet ${listedNames.join(', ')}; mirror ${[...this.fleetUnits].sort().join(', ')}`);
    for (const u of listed) if (u.currentState !== 'launched') this.violation('settled', `${u.name} is ${u.currentState} in fleet after settling`);

    const failedActions = [...this.actions.values()].filter((a) => a.status === 'failed');
    const failedInstances = new Set(failedActions.map((a) => a.instance));
    for (const a of this.actions.values()) {
      this.count('settled');
      const id = `${a.service}/${a.decisionId}`;
      if (a.status === 'pending') this.violation('settled', `action ${id} (${a.kind} ${a.instance}) never finished`);
      if (a.status === 'failed' && this.actionEnds.get(id) !== 'action_failed') this.violation('settled', `action ${id} failed without an action_failed record`);
      if (a.status === 'done' && this.actionEnds.get(id) !== 'action_done') this.violation('settled', `action ${id} done without an action_done record`);
    }
    const expected = new Set<string>();
    for (const [service, own] of this.instances) {
      for (const record of own.values()) {
        this.count('settled');
        // A failed action's instance keeps its slot until an operator retries: its units may be half there.
        if (failedInstances.has(record.name)) continue;
        if (record.state !== 'launched') this.violation('settled', `${service}: ${record.name} is still ${record.state} after settling`);
        for (const unit of [record.name, ...record.attached_services.map((a) => a.name)]) expected.add(unit);
      }
    }
    for (const unit of this.fleetUnits) {
      if (failedInstances.has(instanceOfUnit(unit))) continue;
      if (!expected.has(unit)) this.violation('settled', `${unit} runs in fleet but no instance records it`);
    }
    for (const unit of expected) if (!this.fleetUnits.has(unit)) this.violation('settled', `${unit} is recorded but not in fleet`);
    for (const s of CHAOS_SERVICES) {
      if (!this.minReached.etcd.has(s.name) || !this.minReached.fleet.has(s.name)) this.violation('settled', `${s.name} never reached min_instance ${s.min}`);
    }
    const outOfOrder = this.stats.get('samples_rejected_out_of_order') ?? 0;
    this.count('cursor');
    if (outOfOrder > this.sampleRewrites) {
      this.violation('cursor', `${outOfOrder} samples rejected as out of order, but only ${this.sampleRewrites} sample keys were written twice: a sample was read again`);
    }
    return { failedActions };
  }

  /** Actions by service and kind, with their ends. */
  actionSummary(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const a of this.actions.values()) {
      const own = (out[a.service] ??= {});
      const k = `${a.kind}${a.reason === 'min_instance' || a.reason === 'max_instance' ? ` (${a.reason})` : ''} ${a.status}`;
      own[k] = (own[k] ?? 0) + 1;
    }
    return out;
  }

  decisionSummary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const d of this.decisions.values()) {
      const k = d.outcome === 'suppressed' ? `suppressed: ${d.reason}` : d.outcome;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }

  rejectedSamples(): Record<string, number> {
    return Object.fromEntries([...this.stats].filter(([k]) => k.startsWith('samples_rejected_')).map(([k, v]) => [k.slice('samples_rejected_'.length), v]));
  }

  /** Launched instances of a service now (what the load writes per-instance samples for). */
  launched(service: string): string[] {
    return [...(this.instances.get(service)?.values() ?? [])].filter((i) => i.state === 'launched').map((i) => i.name);
  }
}

function rank(state: InstanceRecord['state']): number {
  return state === 'creating' ? 0 : state === 'launched' ? 1 : 2;
}

function describe(instances: InstanceRecord[]): string {
  return instances.map((i) => `${i.name} ${i.state}`).join(', ');
}
