import { keys, type DecisionRecord } from '@dynamite/domain';
import type { ActionRecord, CooldownRecord, InstanceRecord, StoredMachine, TemplateRecord } from './records';
import { MAX_TXN_OPS, type Guard, type StateStore, type Write } from './state-store';

/**
 * The engine's named etcd transactions. Each is one guarded commit: it applies only if every key it was decided
 * on is still at the revision read, so concurrent workers never commit on stale state. A commit that lost the
 * race returns false; the caller reads again and decides again (retryOnConflict).
 */

/** Returned by an attempt whose commit lost the race to a concurrent writer. */
export const CONFLICT = Symbol('conflict');

/** The one read-decide-commit loop: runs `attempt` on fresh reads until it does not report a conflict. */
export async function retryOnConflict<T>(what: string, attempt: (n: number) => Promise<T | typeof CONFLICT>, max = 25): Promise<T> {
  for (let n = 1; n <= max; n += 1) {
    const result = await attempt(n);
    if (result !== CONFLICT) return result;
  }
  throw new Error(`${what}: gave up after ${max} conflicting commits`);
}

/** A decided scale action (one per instance of a step, or none in a dry run) and everything it changes in its service's records. */
export interface ScaleCommit {
  service: string;
  /** The template revision the decision was made on: a concurrent decision for the service moves it. */
  templateRevision: string;
  /**
   * The operator's control keys the decision was made on, at the revisions read: the dry run, the pause and the
   * protection of each instance removed. A pause or protection written after the read moves one, so the commit fails
   * and the decision is made again with it.
   */
  controlGuards: Guard[];
  /** The template with the port slots after the actions; null in a dry run (nothing changes). */
  template: TemplateRecord | null;
  /** The instances created (`creating`) or marked `destroying`. */
  instances: InstanceRecord[];
  /** One per instance: the first has the decision id, the k-th `<decision id>-<k>`. Empty in a dry run. */
  actions: ActionRecord[];
  /** The cooldown the decision starts (policy decisions only, dry runs too). */
  cooldown: { policy: string; record: CooldownRecord } | null;
}

function scaleGuardsAndWrites(scale: ScaleCommit): { guards: Guard[]; writes: Write[] } {
  const writes: Write[] = [
    ...scale.instances.map((i): Write => ({ put: keys.instance(scale.service, i.name), value: JSON.stringify(i) })),
    ...(scale.template ? [{ put: keys.serviceTemplate(scale.service), value: JSON.stringify(scale.template) }] : []),
    ...scale.actions.map((a): Write => ({ put: keys.action(scale.service, a.decisionId), value: JSON.stringify(a) })),
  ];
  if (scale.cooldown) writes.push({ put: keys.cooldown(scale.service, scale.cooldown.policy), value: JSON.stringify(scale.cooldown.record) });
  return {
    guards: [
      { key: keys.serviceTemplate(scale.service), modRevision: scale.templateRevision },
      ...scale.controlGuards,
      // Created only if absent: one decision id never becomes two actions.
      ...scale.actions.map((a) => ({ key: keys.action(scale.service, a.decisionId), modRevision: '0' })),
    ],
    writes,
  };
}

function recordWrites(service: string, records: DecisionRecord[]): Write[] {
  return records.map((r) => ({ put: keys.decision(service, r.id), value: JSON.stringify(r) }));
}

/** One state machine's step that decided nothing: its new state and cursor and the records it wrote. */
export interface QuietPolicyStep {
  service: string;
  policy: string;
  machine: string;
  machineRevision: string;
  cooldownRevision: string;
  next: StoredMachine;
  records: DecisionRecord[];
}

/** A step's own guards (its machine and its policy's cooldown, as read) and writes (the machine and its records). */
function stepGuardsAndWrites(step: QuietPolicyStep): { guards: Guard[]; writes: Write[] } {
  return {
    guards: [
      { key: keys.machine(step.service, step.policy, step.machine), modRevision: step.machineRevision },
      { key: keys.cooldown(step.service, step.policy), modRevision: step.cooldownRevision },
    ],
    writes: [
      { put: keys.machine(step.service, step.policy, step.machine), value: JSON.stringify(step.next) },
      ...recordWrites(step.service, step.records),
    ],
  };
}

/**
 * Commit a policy step: the state machine's new state and cursor, its decision records and, when it fired, the
 * decision made for the fire -- guarded by the template revision it was made on, with the action and all it
 * changes when it decided one. Guarded by the machine and its policy's cooldown too.
 */
export function commitPolicyStep(store: StateStore, step: QuietPolicyStep & { fired: { templateRevision: string; scale: ScaleCommit | null } | null }): Promise<boolean> {
  const { guards, writes } = stepGuardsAndWrites(step);
  if (step.fired) {
    const scale = step.fired.scale ? scaleGuardsAndWrites(step.fired.scale) : null;
    guards.push(...(scale?.guards ?? [{ key: keys.serviceTemplate(step.service), modRevision: step.fired.templateRevision }]));
    writes.push(...(scale?.writes ?? []));
  }
  return store.commit(guards, writes);
}

/**
 * Commit the steps of many machines that did not fire, in as few transactions as etcd allows: each transaction is
 * guarded by every machine and cooldown it holds, like commitPolicyStep. Returns, per step, whether it was
 * committed; a transaction that lost a race fails all its steps (their callers run them again one by one).
 */
export async function commitQuietPolicySteps(store: StateStore, steps: QuietPolicyStep[]): Promise<boolean[]> {
  const chunks: { steps: number[]; guards: Map<string, Guard>; writes: Write[] }[] = [];
  let chunk: (typeof chunks)[number] | null = null;
  for (const [i, step] of steps.entries()) {
    const { guards, writes } = stepGuardsAndWrites(step);
    if (writes.length > MAX_TXN_OPS) continue; // too big to share a transaction: left to its caller's own commit
    // One slot is kept for the writer's fence.
    if (!chunk || chunk.guards.size + guards.length > MAX_TXN_OPS - 1 || chunk.writes.length + writes.length > MAX_TXN_OPS) {
      chunk = { steps: [], guards: new Map(), writes: [] };
      chunks.push(chunk);
    }
    chunk.steps.push(i);
    // The same guard twice (machines of one policy share its cooldown) is sent once; two revisions of one key
    // cannot both hold, and the transaction fails as it should.
    for (const g of guards) chunk.guards.set(`${g.key}\u0000${g.modRevision}`, g);
    chunk.writes.push(...writes);
  }
  const committed: boolean[] = steps.map(() => false);
  await Promise.all(chunks.map(async (c) => {
    const ok = await store.commit([...c.guards.values()], c.writes);
    for (const i of c.steps) committed[i] = ok;
  }));
  return committed;
}

/** Commit a bound repair (min/max): its record and, when it decided one, the action. */
export function commitBoundRepair(store: StateStore, repair: { service: string; templateRevision: string; record: DecisionRecord; scale: ScaleCommit | null }): Promise<boolean> {
  const scale = repair.scale ? scaleGuardsAndWrites(repair.scale) : null;
  const guards = scale?.guards ?? [{ key: keys.serviceTemplate(repair.service), modRevision: repair.templateRevision }];
  return store.commit(guards, [...recordWrites(repair.service, [repair.record]), ...(scale?.writes ?? [])]);
}

/** Write decision records that change nothing else (what a dry run would have repaired). */
export function commitRecords(store: StateStore, service: string, records: DecisionRecord[]): Promise<boolean> {
  return store.commit([], recordWrites(service, records));
}

/**
 * Commit the end of a fleet action: the action's status, the instance (now launched, or deleted after a destroy,
 * or unchanged), the template's port slots and the record. Guarded by the action and the template.
 */
export function commitActionResult(store: StateStore, end: {
  action: ActionRecord;
  actionRevision: string;
  templateRevision: string;
  template: TemplateRecord | null;
  instance: { put: InstanceRecord } | { del: string } | null;
  record: DecisionRecord;
}): Promise<boolean> {
  const service = end.action.service;
  const writes: Write[] = [{ put: keys.action(service, end.action.decisionId), value: JSON.stringify(end.action) }];
  if (end.instance && 'put' in end.instance) writes.push({ put: keys.instance(service, end.instance.put.name), value: JSON.stringify(end.instance.put) });
  // An instance that is gone takes its protection with it: a later instance of the same name is a new one.
  if (end.instance && 'del' in end.instance) writes.push({ del: keys.instance(service, end.instance.del) }, { del: keys.protection(service, end.instance.del) });
  if (end.template) writes.push({ put: keys.serviceTemplate(service), value: JSON.stringify(end.template) });
  writes.push(...recordWrites(service, [end.record]));
  return store.commit([
    { key: keys.action(service, end.action.decisionId), modRevision: end.actionRevision },
    { key: keys.serviceTemplate(service), modRevision: end.templateRevision },
  ], writes);
}

/** Record a unit fleet already runs as an instance of `service` (adoption at scheduler start). */
export function commitAdoptedUnit(store: StateStore, adopt: { service: string; templateRevision: string; template: TemplateRecord; instance: InstanceRecord }): Promise<boolean> {
  return store.commit(
    [{ key: keys.serviceTemplate(adopt.service), modRevision: adopt.templateRevision }],
    [
      { put: keys.instance(adopt.service, adopt.instance.name), value: JSON.stringify(adopt.instance) },
      { put: keys.serviceTemplate(adopt.service), value: JSON.stringify(adopt.template) },
    ],
  );
}

/** Write a service's template (at scheduler start), keeping the port slots of its recorded instances. */
export function commitTemplate(store: StateStore, service: string, templateRevision: string, template: TemplateRecord): Promise<boolean> {
  return store.commit([{ key: keys.serviceTemplate(service), modRevision: templateRevision }], [{ put: keys.serviceTemplate(service), value: JSON.stringify(template) }]);
}

/** Delete a key only if nobody changed it since it was read (garbage collection of actions and idle machines). */
export function deleteIfUnchanged(store: StateStore, key: string, modRevision: string): Promise<boolean> {
  return store.commit([{ key, modRevision }], [{ del: key }]);
}
