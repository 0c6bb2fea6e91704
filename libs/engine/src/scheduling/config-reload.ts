import {
  countsOf,
  describeChange,
  deterministicId,
  diffConfigs,
  findService,
  joinPath,
  keys,
  type ConfigDiff,
  type DecisionRecord,
  type DynamiteConfig,
  type PolicyPair,
} from '@dynamite/domain';
import { CONFLICT, commitBoundRepair, retryOnConflict, type StateStore, type Write } from '@dynamite/store';
import type { ConfigAtRevision } from '../runtime/config-source';
import type { EngineContext, FleetClientOptions } from '../runtime/context';
import { useConfiguredFleetEndpoint } from '../runtime/context';
import { reconcile } from '../processors/reconcile';
import { controlsOf, scaleCommitFor, toRecordedInstances } from '../processors/scale-decision';
import { appliedConfigValue, parseApplyRequest, readAppliedConfig, type ApplyRequest } from './config-apply';

/**
 * Hot reload, the leader's side: a config stored anew (`dynamite apply`, a SIGHUP, a scheduler started with a changed
 * file) is applied without a restart. Compared with the config the leader applied last (kept in etcd, so a leader
 * that starts after a change does the same), it:
 *   - routes samples by the new config (the sample watch goes on; a new metrics prefix takes a new watch);
 *   - drops the state of every (service, policy) pair the new config no longer has, and starts over the state
 *     machines of policies whose evaluation changed (their cooldowns are kept); every other machine, armed timer and
 *     cooldown is left as it is;
 *   - records one `reconfigured` decision record per service touched;
 *   - destroys the units of services an apply asked to prune (scale downs through the action queue, recorded);
 *   - reconciles: new services get their templates' adoption and min_instance, lowered bounds are repaired.
 * A removed service is no longer routed, checked, repaired or healed: its units and records are left alone.
 */

export interface ConfigChangeReport {
  revision: string;
  /** The revision applied before, or null when no leader applied one before. */
  from: string | null;
  services: { added: string[]; removed: string[]; changed: string[] };
  droppedPairs: PolicyPair[];
  restartedPairs: PolicyPair[];
  /** Instances marked for destruction by a prune. */
  pruned: string[];
}

/** The etcd side of a config change: policy state, records, prunes. Idempotent but for the records' ids. */
export async function settleConfig(ctx: EngineContext, next: ConfigAtRevision, opts: { by?: string } = {}): Promise<ConfigChangeReport> {
  const previous = await readAppliedConfig(ctx.store);
  const diff = previous ? diffConfigs(previous.config, next.config) : null;
  const report: ConfigChangeReport = {
    revision: next.modRevision,
    from: previous?.revision ?? null,
    services: { added: diff?.services.added ?? [], removed: diff?.services.removed ?? [], changed: diff?.services.changed.map((c) => c.name) ?? [] },
    droppedPairs: diff?.droppedPairs ?? [],
    restartedPairs: diff?.restartedPairs ?? [],
    pruned: [],
  };
  const requestKv = (await ctx.store.etcd.get(keys.applyRequest).exec()).kvs[0];
  const request = requestKv ? parseApplyRequest(requestKv.value.toString('utf8')) : null;

  if (diff) await resetPolicyState(ctx, diff);
  const now = ctx.clock.now();
  const by = request?.by ?? opts.by ?? 'a config stored anew';
  const records = diff || request ? changeRecords(previous?.config ?? null, next, diff, request, by, now) : [];
  if (records.length > 0) {
    const writes: Write[] = records.map((r) => ({ put: keys.decision(r.service, r.id), value: JSON.stringify(r) }));
    for (let i = 0; i < writes.length; i += 100) await ctx.store.commit([], writes.slice(i, i + 100));
    for (const r of records) {
      ctx.metrics.decisions.inc({ service: r.service, outcome: r.outcome, reason: r.reason ?? '' });
      ctx.log.info({ decisionId: r.id, service: r.service, outcome: r.outcome, reason: r.reason }, r.message);
    }
    await ctx.notifier.records(records);
  }
  if (request) {
    for (const service of request.prune) {
      if (findService(next.config, service)) {
        ctx.log.warn({ service }, `not pruning ${service}: it is in the config again`);
        continue;
      }
      report.pruned.push(...(await pruneService(ctx, next, service, request)));
    }
    // Done with it -- unless another apply wrote a new one meanwhile (handled with its own config change).
    await ctx.store.commit([{ key: keys.applyRequest, modRevision: String(requestKv!.mod_revision) }], [{ del: keys.applyRequest }]);
  }
  return report;
}

/** Notes the config as applied: the next change is compared with it, and `dynamite apply` stops waiting. */
export async function markApplied(store: StateStore, next: ConfigAtRevision): Promise<void> {
  await store.commit([], [{ put: keys.appliedConfiguration, value: appliedConfigValue(next.modRevision, next.config.raw) }]);
}

/** Dropped pairs lose their machines and cooldown; restarted pairs their machines. Armed timers are cancelled. */
async function resetPolicyState(ctx: EngineContext, diff: ConfigDiff): Promise<void> {
  if (diff.droppedPairs.length === 0 && diff.restartedPairs.length === 0) return;
  const id = (p: PolicyPair) => `${p.service}\u0000${p.policy}`;
  const dropped = new Set(diff.droppedPairs.map(id));
  const restarted = new Set(diff.restartedPairs.map(id));
  const { machines, cooldowns } = await ctx.store.listPolicyState();
  const deletes: Write[] = [];
  for (const m of machines) {
    if (!dropped.has(id(m)) && !restarted.has(id(m))) continue;
    if (m.stored.state.armed) await ctx.jobs.cancelTimer({ service: m.service, policy: m.policy, machine: m.machine }, m.stored.state.armed.timerId);
    deletes.push({ del: keys.machine(m.service, m.policy, m.machine) });
  }
  for (const c of cooldowns) if (dropped.has(id(c))) deletes.push({ del: keys.cooldown(c.service, c.policy) });
  // etcd allows 128 operations per transaction by default.
  for (let i = 0; i < deletes.length; i += 100) await ctx.store.commit([], deletes.slice(i, i + 100));
}

/** One `reconfigured` record per service the change touches, each saying what changed for it and what follows. */
function changeRecords(previous: DynamiteConfig | null, next: ConfigAtRevision, diff: ConfigDiff | null, request: ApplyRequest | null, by: string, now: number): DecisionRecord[] {
  const notes = new Map<string, { reason: 'added' | 'removed' | 'changed'; lines: string[] }>();
  const note = (service: string, reason: 'added' | 'removed' | 'changed', line: string) => {
    const entry = notes.get(service) ?? { reason, lines: [] };
    if (reason !== 'changed') entry.reason = reason;
    entry.lines.push(line);
    notes.set(service, entry);
  };
  const attached = (config: DynamiteConfig | null, name: string) => findService(config ?? next.config, name)?.isAttached ?? false;
  const parentsOf = (name: string) => next.config.services.filter((s) => !s.isAttached && s.attachedServices.includes(name)).map((s) => s.name);

  if (diff) {
    for (const name of diff.services.added) {
      const s = findService(next.config, name)!;
      if (s.isAttached) continue;
      note(name, 'added', `added to the config (min_instance ${s.minInstance}, max_instance ${s.maxInstance}): now managed; brought to min_instance`);
    }
    for (const name of diff.services.removed) {
      if (attached(previous, name)) continue;
      const units = request?.prune.includes(name) ? 'its units are destroyed (--prune)' : 'its units are left running (dynamite apply --prune destroys them)';
      note(name, 'removed', `removed from the config: no longer scaled, repaired or healed; ${units}`);
    }
    for (const { name, changes } of diff.services.changed) {
      const lines = changes.map((c) => describeChange(c, joinPath(['Service', name])));
      if (attached(next.config, name)) for (const parent of parentsOf(name)) note(parent, 'changed', `attached service ${name} changed: ${lines.join(', ')}`);
      else note(name, 'changed', lines.join(', '));
    }
    for (const { name, changes, restartsMachines } of diff.policies.changed) {
      const what = changes.map((c) => describeChange(c, joinPath(['ScalingPolicy', name]))).join(', ');
      const then = restartsMachines ? 'its state machines start over (cooldown kept)' : 'its state machines and cooldown are kept';
      for (const s of next.config.services) {
        if (s.scaleUpPolicies.includes(name) || s.scaleDownPolicies.includes(name)) note(s.name, 'changed', `policy ${name} changed (${what}): ${then}`);
      }
    }
    const removed = new Set(diff.services.removed);
    for (const pair of diff.droppedPairs) {
      if (!removed.has(pair.service)) note(pair.service, 'changed', `no longer uses policy ${pair.policy}: its state machines and cooldown are dropped`);
    }
    const restartedByPolicy = new Set(diff.policies.changed.filter((p) => p.restartsMachines).map((p) => p.name));
    for (const pair of diff.restartedPairs) {
      if (!restartedByPolicy.has(pair.policy)) note(pair.service, 'changed', `uses policy ${pair.policy} in the other direction now: its state machines start over`);
    }
  }
  for (const name of request?.unitFiles ?? []) {
    if (findService(next.config, name)) note(name, 'changed', 'unit file changed: new instances use it, running ones keep theirs');
  }

  return [...notes].map(([service, { reason, lines }]) => ({
    id: deterministicId(now, 'reconfigured', service, next.modRevision),
    at: now,
    service,
    policy: null,
    machine: null,
    direction: null,
    outcome: 'reconfigured',
    reason,
    rule: null,
    inputs: { revision: next.modRevision, by, changes: lines },
    action: null,
    message: `config revision ${next.modRevision} (${by}), ${service}: ${lines.join('; ')}`,
  }));
}

/**
 * Destroys the units of a service no longer in the config, as `dynamite apply --prune` asked: every recorded instance
 * is marked `destroying` with a scale-down action (one etcd transaction each, with its `reconfigured` record), and the
 * actions queue destroys the units through fleet and records each end (`action_done`).
 */
async function pruneService(ctx: EngineContext, next: ConfigAtRevision, service: string, request: ApplyRequest): Promise<string[]> {
  const marked: string[] = [];
  for (;;) {
    const decided = await retryOnConflict(`pruning ${service}`, async () => {
      const records = await ctx.store.readService(service);
      // A dry run reaches fleet with nothing, a prune included; a protected instance is never removed.
      const controls = controlsOf(records);
      if (controls.engineDryRun) return null;
      const instance = records.instances.find((i) => i.state !== 'destroying' && !controls.protectedInstances.has(i.name));
      if (!instance || !records.template.value) return null;
      const now = ctx.clock.now();
      const decisionId = deterministicId(now, 'prune', service, instance.name);
      const attachedUnits = instance.attached_services.map((a) => a.name);
      const before = countsOf(toRecordedInstances(records.instances));
      const scale = scaleCommitFor(next.config, {
        records,
        decision: { outcome: 'action', actions: [{ outcome: 'action', kind: 'scale_down', instance: instance.name, port: instance.port, attached: attachedUnits }], dryRun: false, short: null },
        before,
        step: 1,
      }, { decisionId, reason: 'pruned', now, dueAt: null, cooldown: null });
      const record: DecisionRecord = {
        id: decisionId,
        at: now,
        service,
        policy: null,
        machine: null,
        direction: 'down',
        outcome: 'reconfigured',
        reason: 'pruned',
        rule: null,
        inputs: { revision: next.modRevision, by: request.by, instancesBefore: before },
        action: { kind: 'scale_down', instance: instance.name, attached: attachedUnits },
        message: `${service} is no longer in the config and ${request.by} --prune asked to destroy its units: removing ${instance.name}`,
      };
      if (!(await commitBoundRepair(ctx.store, { service, templateRevision: records.template.modRevision, record, scale }))) return CONFLICT;
      return { scale: scale!, record };
    });
    if (!decided) return marked;
    ctx.metrics.decisions.inc({ service, outcome: decided.record.outcome, reason: 'pruned' });
    const instances = decided.scale.actions.map((a) => a.instance);
    ctx.log.info({ decisionId: decided.record.id, service, instances }, decided.record.message);
    for (const action of decided.scale.actions) await ctx.jobs.addAction(action);
    await ctx.notifier.records([decided.record]);
    marked.push(...instances);
  }
}

export interface ConfigChangeHooks {
  /** Routes samples by the new config (the scheduler's sample watch). */
  routeSamples(config: DynamiteConfig): Promise<void>;
  /** The fleet flags, for a changed FleetAPIEndpoint. */
  fleet: { fleetEndpointExplicit?: boolean; fleet?: FleetClientOptions; fleetEndpoint?: string };
}

/** Everything the leader does for a config stored while it leads (see the top of this file). */
export async function applyConfigChange(ctx: EngineContext, next: ConfigAtRevision, hooks: ConfigChangeHooks): Promise<ConfigChangeReport> {
  await hooks.routeSamples(next.config);
  const report = await settleConfig(ctx, next);
  await useConfiguredFleetEndpoint(ctx, hooks.fleet);
  const reconciled = await reconcile(ctx, { adopt: true, heal: true });
  if (reconciled.adoptionDone) await ctx.jobs.upsertSchedulers(next.config.engine.reconcileIntervalMs);
  await markApplied(ctx.store, next);
  ctx.log.info({ ...report, boundRepairs: reconciled.boundRepairs, adopted: reconciled.adopted }, `config revision ${next.modRevision} applied`);
  return report;
}

/**
 * Notices configs stored anew while this scheduler leads -- at once through the config source's watch, and every
 * `pollMs` by asking it (which also re-establishes a dropped watch) -- and applies each, one at a time, newest first.
 */
export class ConfigReload {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  private lastError: string | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private applied: string,
    private readonly apply: (next: ConfigAtRevision) => Promise<unknown>,
    private readonly pollMs = 1_000,
  ) {}

  get appliedRevision(): string {
    return this.applied;
  }

  start(): void {
    this.unsubscribe = this.ctx.config.onChange(() => this.poke());
    this.timer = setInterval(() => this.poke(), this.pollMs);
  }

  private poke(): void {
    this.chain = this.chain.then(() => this.check());
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    try {
      const next = await this.ctx.config.latest();
      if (this.stopped || BigInt(next.modRevision) <= BigInt(this.applied)) return;
      await this.apply(next);
      this.applied = next.modRevision;
      this.lastError = null;
    } catch (err) {
      const message = String(err);
      // Tried again at the next poll; said once per distinct problem.
      if (!this.stopped && message !== this.lastError) this.ctx.log.error({ err: message }, 'could not apply the stored config; retrying');
      this.lastError = message;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    await this.chain;
  }
}
