import {
  describeRule,
  findPolicy,
  findService,
  parseInstanceOf,
  type DecisionRecord,
  type DynamiteConfig,
  type ServiceConfig,
} from '@dynamite/domain';
import type { FleetUnit } from '@dynamite/fleet-client';
import type { ActionRecord, CooldownRecord, StateStore, InstanceRecord, StoredMachine } from '@dynamite/store';
import { controlsView, type ControlsView } from './controls';

/**
 * What an operator asks first: per service, how many instances are recorded (desired) and how many fleet runs
 * (actual), in which state, within which bounds, what each policy is doing (armed until when, in cooldown until
 * when) and the last decisions. Read from etcd (the source of truth) plus, when given, fleet's unit list.
 * Served by `GET /api/services` and printed by `dynamite status` (which reads etcd alone).
 */

/** `absent`: fleet has no such unit; `unknown`: fleet was not asked or did not answer. */
export type FleetStateView = 'launched' | 'loaded' | 'inactive' | 'global' | 'absent' | 'unknown';

export interface UnitView {
  name: string;
  /** Recorded state (etcd). */
  state: string;
  /** fleet's currentState of the unit. */
  fleetState: FleetStateView;
}

export interface InstanceView extends UnitView {
  port: number | null;
  createdAt: string | null;
  decisionId: string | null;
  origin: InstanceRecord['origin'];
  attached: UnitView[];
  /** Protected from scale-in by an operator (see the service's `protected` for who and why). */
  protected: boolean;
}

export interface ArmedMachineView {
  /** Instance uuid, or `_aggregate`. */
  machine: string;
  armedAt: string;
  /** When the period ends and the policy fires (if the window still holds). */
  until: string;
  remainingMs: number;
  samples: number;
  newestValue: number;
}

export interface PolicyView {
  name: string;
  direction: 'up' | 'down';
  rule: string;
  aggregated: boolean;
  /** `cooldown` wins over `armed`: while a cooldown runs the policy fires nothing. */
  state: 'idle' | 'armed' | 'cooldown';
  /** State machines tracked in etcd for this policy (instances that sent samples, or one aggregate). */
  machines: number;
  armed: ArmedMachineView[];
  cooldown: { until: string; remainingMs: number; decisionId: string } | null;
}

export interface ActionView {
  decisionId: string;
  kind: ActionRecord['kind'];
  instance: string;
  status: ActionRecord['status'];
  reason: string;
  attempts: number;
  error: string | null;
  createdAt: string;
}

export type DecisionView = DecisionRecord & { time: string };

/** `dryRun`, `paused` and `protected` come from the operator's controls (controls.ts). */
export interface ServiceView extends ControlsView {
  name: string;
  /** False for a service recorded in etcd that the current config no longer has. */
  configured: boolean;
  unitFile: string | null;
  template: boolean;
  attachedServices: string[];
  min: number | null;
  max: number | null;
  /** Recorded active instances (creating + launched): what the engine wants to run. */
  desired: number;
  /** Units of this service fleet reports `launched`; null when fleet was not asked or did not answer. */
  actual: number | null;
  instances: InstanceView[];
  /** fleet units that are instances of this service but are not recorded (adopted at the next scheduler start). */
  unrecordedUnits: string[];
  policies: PolicyView[];
  /** Actions not done yet: pending, or failed and waiting for a retry from the board. */
  actions: ActionView[];
  /** Newest first. */
  decisions: DecisionView[];
}

export interface Overview {
  time: string;
  applicationStatus: string | null;
  /** The engine-wide dry run (`--dry_run` of the leading scheduler): decisions are recorded, nothing reaches fleet. */
  dryRun: boolean;
  fleet: { asked: boolean; reachable: boolean | null; error: string | null };
  services: ServiceView[];
}

export interface OverviewOptions {
  now: number;
  /** How many decision records per service (0: none). */
  decisions: number;
  /** fleet's units, or an error when fleet could not be read, or null when fleet is not asked (`dynamite status`). */
  fleet: { units: FleetUnit[] } | { error: string } | null;
  /** Only this service (the caller checked that it exists). */
  only?: string;
}

function iso(ms: number | null | undefined): string | null {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;
}

function fleetStateOf(units: Map<string, FleetUnit> | null, name: string): FleetStateView {
  if (units === null) return 'unknown';
  const unit = units.get(name);
  if (!unit) return 'absent';
  return unit.currentState === '' ? 'global' : unit.currentState;
}

export function decisionView(record: DecisionRecord): DecisionView {
  return { ...record, time: iso(record.at) ?? '' };
}

/** Every service the config names plus any left in etcd by an older config; attached services are shown in their parent. */
export async function listServiceNames(store: StateStore, config: DynamiteConfig): Promise<{ name: string; config: ServiceConfig | null }[]> {
  const configured = config.services.filter((s) => !s.isAttached);
  const names = new Set(configured.map((s) => s.name));
  const attached = new Set(config.services.filter((s) => s.isAttached).map((s) => s.name));
  const extra = (await store.recordedServices()).filter((s) => !names.has(s) && !attached.has(s));
  return [...configured.map((s) => ({ name: s.name, config: s })), ...extra.map((name) => ({ name, config: null }))];
}

/** Whether `name` is a service the operator can ask about: configured (attached ones included) or recorded. */
export async function serviceExists(store: StateStore, config: DynamiteConfig, name: string): Promise<boolean> {
  if (findService(config, name)) return true;
  return (await store.recordedServices()).includes(name);
}

export async function buildOverview(store: StateStore, config: DynamiteConfig, opts: OverviewOptions): Promise<Overview> {
  const { now } = opts;
  const fleetUnits = opts.fleet !== null && 'units' in opts.fleet ? new Map(opts.fleet.units.map((u) => [u.name, u])) : null;
  const [statusText, dryRun, { machines, cooldowns }, actions, names] = await Promise.all([
    store.readApplicationStatus(),
    store.readDryRun(),
    store.listPolicyState(),
    store.listActions(),
    listServiceNames(store, config),
  ]);
  const selected = opts.only === undefined ? names : names.filter((n) => n.name === opts.only);

  const services = await Promise.all(selected.map(async ({ name, config: svc }): Promise<ServiceView> => {
    const [records, decisions] = await Promise.all([
      store.readService(name),
      opts.decisions > 0 ? store.listDecisions(name, opts.decisions) : Promise.resolve([] as DecisionRecord[]),
    ]);
    const instances = records.instances
      .slice()
      .sort((a, b) => (a.port ?? 0) - (b.port ?? 0) || a.name.localeCompare(b.name))
      .map((i): InstanceView => ({
        name: i.name,
        state: i.state,
        fleetState: fleetStateOf(fleetUnits, i.name),
        port: i.port,
        createdAt: iso(i.created_at),
        decisionId: i.decision_id,
        origin: i.origin,
        attached: i.attached_services.map((a) => ({ name: a.name, state: a.state, fleetState: fleetStateOf(fleetUnits, a.name) })),
        protected: records.controls.protections[i.name] !== undefined,
      }));
    const recorded = new Set(instances.map((i) => i.name));
    let actual: number | null = null;
    const unrecordedUnits: string[] = [];
    if (fleetUnits !== null) {
      actual = 0;
      for (const unit of fleetUnits.values()) {
        const owner = parseInstanceOf(config, unit.name);
        const mine = owner ? owner.service === name : instances.some((i) => i.name === unit.name);
        if (!mine) continue;
        if (unit.currentState === 'launched') actual += 1;
        if (!recorded.has(unit.name)) unrecordedUnits.push(unit.name);
      }
    }
    return {
      name,
      configured: svc !== null,
      unitFile: svc?.unitFile ?? null,
      template: svc?.isTemplate ?? false,
      attachedServices: svc?.attachedServices ?? [],
      min: svc?.minInstance ?? null,
      max: svc?.maxInstance ?? null,
      desired: records.instances.filter((i) => i.state === 'creating' || i.state === 'launched').length,
      actual,
      instances,
      unrecordedUnits: unrecordedUnits.sort(),
      policies: svc ? policiesOf(config, svc, machines, cooldowns, now) : [],
      actions: actions
        .filter((a) => a.service === name && a.status !== 'done')
        .map((a) => ({
          decisionId: a.decisionId, kind: a.kind, instance: a.instance, status: a.status, reason: a.reason,
          attempts: a.attempts, error: a.error, createdAt: iso(a.createdAt) ?? '',
        })),
      decisions: decisions.map(decisionView),
      ...controlsView(records, svc, now),
    };
  }));

  return {
    time: new Date(now).toISOString(),
    applicationStatus: statusText,
    dryRun: dryRun !== null,
    fleet: opts.fleet === null
      ? { asked: false, reachable: null, error: null }
      : 'units' in opts.fleet ? { asked: true, reachable: true, error: null } : { asked: true, reachable: false, error: opts.fleet.error },
    services,
  };
}

function policiesOf(
  config: DynamiteConfig,
  svc: ServiceConfig,
  machines: { service: string; policy: string; machine: string; stored: StoredMachine }[],
  cooldowns: { service: string; policy: string; cooldown: CooldownRecord }[],
  now: number,
): PolicyView[] {
  const out: PolicyView[] = [];
  const wanted: [string, 'up' | 'down'][] = [...svc.scaleUpPolicies.map((p): [string, 'up'] => [p, 'up']), ...svc.scaleDownPolicies.map((p): [string, 'down'] => [p, 'down'])];
  for (const [policyName, direction] of wanted) {
    const policy = findPolicy(config, policyName);
    if (!policy) continue;
    const own = machines.filter((m) => m.service === svc.name && m.policy === policyName);
    const armed = own
      .filter((m) => m.stored.state?.armed)
      .map((m): ArmedMachineView => {
        const a = m.stored.state.armed!;
        return {
          machine: m.machine,
          armedAt: iso(a.armedAt) ?? '',
          until: iso(a.expiresAt) ?? '',
          remainingMs: Math.max(0, a.expiresAt - now),
          samples: a.samples,
          newestValue: a.newestValue,
        };
      })
      .sort((a, b) => a.until.localeCompare(b.until));
    const cd = cooldowns.find((c) => c.service === svc.name && c.policy === policyName)?.cooldown;
    const cooldown = cd && cd.until > now ? { until: iso(cd.until) ?? '', remainingMs: cd.until - now, decisionId: cd.decisionId } : null;
    out.push({
      name: policyName,
      direction,
      rule: describeRule(policy),
      aggregated: policy.aggregated,
      state: cooldown ? 'cooldown' : armed.length > 0 ? 'armed' : 'idle',
      machines: own.length,
      armed,
      cooldown,
    });
  }
  return out;
}
