import type { DynamiteConfig, ScalingPolicyConfig, ServiceConfig } from './types';
import { joinPath } from './errors';
import { isMapping } from './scalars';

/**
 * What changes between two configs: services and policies added, removed or changed (key by key, as written in
 * the YAML), the other sections key by key, and what becomes of the policies' state machines. Used by
 * `dynamite diff` and `dynamite apply` (before storing a config) and by the leading scheduler (when applying one).
 *
 * Whether an entry changed is decided on the parsed values, so `threshold: 80` and `threshold: "80"`, or a default
 * written out, are no change; the keys listed are those whose written values differ.
 */

export interface FieldChange {
  /** e.g. `Service.web.max_instance`, `Notifications.webhooks.ops.url`. */
  path: string;
  /** The written value, undefined when the key is absent. */
  before: unknown;
  after: unknown;
}

/** A service's use of a policy: the unit of policy state in etcd (`/_dynamite/policy/<service>/<policy>/`). */
export interface PolicyPair {
  service: string;
  policy: string;
}

export interface ConfigDiff {
  services: { added: string[]; removed: string[]; changed: { name: string; changes: FieldChange[] }[] };
  policies: { added: string[]; removed: string[]; changed: { name: string; changes: FieldChange[]; restartsMachines: boolean }[] };
  /** Changes outside Service and ScalingPolicy: ETCD, Engine, FleetAPIEndpoint, ServiceFiles, Notifications. */
  sections: FieldChange[];
  /** Pairs whose state (machines and cooldown) is dropped: the service no longer uses the policy, or either is gone. */
  droppedPairs: PolicyPair[];
  /**
   * Pairs whose state machines start over (armed windows discarded; the cooldown is kept): the policy's evaluation
   * changed (anything but `cooldown_period` and `threshold_unit`), or the service now uses it in the other direction.
   */
  restartedPairs: PolicyPair[];
}

/** Policy fields whose change leaves the state machines as they are: the cooldown (a running one keeps its end). */
const KEEPS_MACHINES = new Set<keyof ScalingPolicyConfig>(['name', 'cooldownMs', 'thresholdUnit']);

export function diffConfigs(before: DynamiteConfig, after: DynamiteConfig): ConfigDiff {
  const rawBefore = bodyOf(before.raw);
  const rawAfter = bodyOf(after.raw);
  const diff: ConfigDiff = {
    services: { added: [], removed: [], changed: [] },
    policies: { added: [], removed: [], changed: [] },
    sections: [],
    droppedPairs: [],
    restartedPairs: [],
  };

  const servicesBefore = new Map(before.services.map((s) => [s.name, s]));
  const servicesAfter = new Map(after.services.map((s) => [s.name, s]));
  for (const s of after.services) if (!servicesBefore.has(s.name)) diff.services.added.push(s.name);
  for (const s of before.services) {
    const next = servicesAfter.get(s.name);
    if (!next) { diff.services.removed.push(s.name); continue; }
    if (stable(serviceFields(s)) === stable(serviceFields(next))) continue;
    const changes = leafChanges(entryOf(rawBefore, 'Service', s.name), entryOf(rawAfter, 'Service', s.name), ['Service', s.name]);
    if (changes.length > 0) diff.services.changed.push({ name: s.name, changes });
  }

  const policiesBefore = new Map(before.policies.map((p) => [p.name, p]));
  const policiesAfter = new Map(after.policies.map((p) => [p.name, p]));
  const restarting = new Set<string>();
  for (const p of after.policies) if (!policiesBefore.has(p.name)) diff.policies.added.push(p.name);
  for (const p of before.policies) {
    const next = policiesAfter.get(p.name);
    if (!next) { diff.policies.removed.push(p.name); continue; }
    if (stable(p) === stable(next)) continue;
    const restartsMachines = (Object.keys({ ...p, ...next }) as (keyof ScalingPolicyConfig)[])
      .some((key) => !KEEPS_MACHINES.has(key) && stable(p[key]) !== stable(next[key]));
    if (restartsMachines) restarting.add(p.name);
    const changes = leafChanges(entryOf(rawBefore, 'ScalingPolicy', p.name), entryOf(rawAfter, 'ScalingPolicy', p.name), ['ScalingPolicy', p.name]);
    diff.policies.changed.push({ name: p.name, changes, restartsMachines });
  }

  const pairsAfter = new Map(pairsOf(after).map((p) => [`${p.service}\u0000${p.policy}`, p]));
  for (const pair of pairsOf(before)) {
    const next = pairsAfter.get(`${pair.service}\u0000${pair.policy}`);
    const ref = { service: pair.service, policy: pair.policy };
    if (!next) diff.droppedPairs.push(ref);
    else if (next.direction !== pair.direction || restarting.has(pair.policy)) diff.restartedPairs.push(ref);
  }

  const sections = new Set([...Object.keys(rawBefore), ...Object.keys(rawAfter)]);
  for (const section of [...sections].sort()) {
    if (section === 'Service' || section === 'ScalingPolicy') continue;
    diff.sections.push(...leafChanges(rawBefore[section], rawAfter[section], [section]));
  }
  return diff;
}

export function isEmptyDiff(diff: ConfigDiff): boolean {
  return diff.services.added.length + diff.services.removed.length + diff.services.changed.length
    + diff.policies.added.length + diff.policies.removed.length + diff.policies.changed.length + diff.sections.length === 0;
}

/**
 * The diff as lines, `diff`-like: `+` added, `-` removed, `~` changed (`path: before -> after`), and indented notes
 * on what becomes of state machines. Secrets are never shown.
 */
export function formatConfigDiff(diff: ConfigDiff): string[] {
  const lines: string[] = [];
  for (const name of diff.services.added) lines.push(`+ ${joinPath(['Service', name])}: added`);
  for (const name of diff.services.removed) lines.push(`- ${joinPath(['Service', name])}: removed (no longer managed; its units are left running unless pruned)`);
  for (const { changes } of diff.services.changed) lines.push(...changes.map(changeLine));
  for (const name of diff.policies.added) lines.push(`+ ${joinPath(['ScalingPolicy', name])}: added`);
  for (const name of diff.policies.removed) lines.push(`- ${joinPath(['ScalingPolicy', name])}: removed`);
  for (const { name, changes, restartsMachines } of diff.policies.changed) {
    lines.push(...changes.map(changeLine));
    lines.push(`    ${joinPath(['ScalingPolicy', name])}: ${restartsMachines ? 'its state machines start over (running cooldowns are kept)' : 'its state machines and cooldowns are kept'}`);
  }
  const removed = new Set(diff.services.removed);
  const removedPolicies = new Set(diff.policies.removed);
  for (const pair of diff.droppedPairs) {
    if (removed.has(pair.service) || removedPolicies.has(pair.policy)) continue;
    lines.push(`    ${joinPath(['Service', pair.service])}: no longer uses ${pair.policy}; its state for it is dropped`);
  }
  lines.push(...diff.sections.map(changeLine));
  return lines;
}

/** One change as `path: before -> after` (secrets hidden), its path shown relative to `base` (e.g. `Service.web`). */
export function describeChange(change: FieldChange, base = ''): string {
  const path = base !== '' && change.path.startsWith(`${base}.`) ? change.path.slice(base.length + 1) : change.path;
  if (/(^|\.)secret$/.test(change.path)) return `${path}: (hidden, changed)`;
  const value = (v: unknown) => (v === undefined ? '(none)' : shown(v));
  return `${path}: ${value(change.before)} -> ${value(change.after)}`;
}

function changeLine(change: FieldChange): string {
  const secret = /(^|\.)secret$/.test(change.path);
  if (change.before === undefined) return `+ ${change.path}: ${secret ? '(hidden)' : shown(change.after)}`;
  if (change.after === undefined) return `- ${change.path}: ${secret ? '(hidden)' : shown(change.before)}`;
  return `~ ${change.path}: ${secret ? '(hidden, changed)' : `${shown(change.before)} -> ${shown(change.after)}`}`;
}

function shown(value: unknown): string {
  if (typeof value === 'string') return /^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** A service as compared: an attached service's maximum is derived from its parents, which report their own change. */
function serviceFields(s: ServiceConfig): Omit<ServiceConfig, 'name' | 'maxInstance'> & { maxInstance?: number } {
  const { name: _name, ...rest } = s;
  return s.isAttached ? { ...rest, maxInstance: undefined } : rest;
}

function pairsOf(config: DynamiteConfig): (PolicyPair & { direction: 'up' | 'down' })[] {
  return config.services.filter((s) => !s.isAttached).flatMap((s) => [
    ...s.scaleUpPolicies.map((policy) => ({ service: s.name, policy, direction: 'up' as const })),
    ...s.scaleDownPolicies.map((policy) => ({ service: s.name, policy, direction: 'down' as const })),
  ]);
}

function bodyOf(raw: unknown): Record<string, unknown> {
  const body = isMapping(raw) && isMapping(raw.Dynamite) ? raw.Dynamite : raw;
  return isMapping(body) ? body : {};
}

function entryOf(body: Record<string, unknown>, section: string, name: string): unknown {
  const entries = body[section];
  return isMapping(entries) ? entries[name] : undefined;
}

/** Every key whose value differs, depth first through mappings; lists and scalars are compared whole. */
function leafChanges(before: unknown, after: unknown, path: (string | number)[]): FieldChange[] {
  if (isMapping(before) && isMapping(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((key) => leafChanges(before[key], after[key], [...path, key]));
  }
  const absent = (v: unknown) => (v === null ? undefined : v);
  if (stable(absent(before)) === stable(absent(after))) return [];
  return [{ path: joinPath(path), before: absent(before), after: absent(after) }];
}

/** JSON with keys sorted, so equal values compare equal whatever their key order. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (isMapping(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v)) ?? 'undefined';
}
