import { COMPRESSED_CONFIG_PREFIX, decodeStoredConfig, diffConfigs, encodeStoredConfig, formatConfigDiff, isEmptyDiff, keys, parseConfigObject, type ConfigDiff, type DynamiteConfig } from '@dynamite/domain';
import type { UnitFileSource } from '@dynamite/config-loader';
import { CONFLICT, retryOnConflict, type StateStore, type TemplateRecord, type Write } from '@dynamite/store';
import pMap from 'p-map';
import { writeTemplate } from './engine-state';
import { buildTemplate } from './template-record';

/**
 * Storing a new config into a running engine (`dynamite apply`, a scheduler's SIGHUP): validated as `dynamite
 * validate` does, compared with what etcd holds (`dynamite diff`), then stored -- the templates of services whose
 * unit files or settings changed first, then the config, in the keys a scheduler's start writes. The leading
 * scheduler watches the config key and applies the change without a restart (config-reload.ts).
 */

export interface ConfigPlan {
  /** The config etcd holds, or null when none (or one that does not parse: `storedProblem` says why). */
  stored: { config: DynamiteConfig; revision: string } | null;
  storedProblem: string | null;
  /** Against the stored config; null when none is stored. */
  diff: ConfigDiff | null;
  /** Templates to write: services without one yet, or whose unit files or settings changed. */
  templates: { service: string; template: TemplateRecord; unitFileChanged: boolean }[];
  /** Services recorded in etcd that the new config does not have, with their recorded instances. */
  unmanaged: { service: string; instances: string[] }[];
  /** Whether storing changes anything (the config or a template). */
  changed: boolean;
}

/** What `dynamite apply` (or a SIGHUP) tells the leader beyond the config itself, written with it (merged with a pending one). */
export interface ApplyRequest {
  /** Services whose units the leader destroys (recorded services no longer in the config at apply time). */
  prune: string[];
  /** Services whose unit files changed (recorded in their decision records). */
  unitFiles: string[];
  /** Who stored it (`dynamite apply`, `SIGHUP`), for the records. */
  by: string;
  at: number;
}

export interface ConfigToStore {
  config: DynamiteConfig;
  unitFiles: Map<string, UnitFileSource>;
}

/** Compares `next` (a loaded file and its unit files) with what etcd holds. Reads only. */
export async function planConfig(store: StateStore, next: ConfigToStore): Promise<ConfigPlan> {
  const res = await store.etcd.get(keys.applicationConfiguration).exec();
  const kv = res.kvs[0];
  let stored: ConfigPlan['stored'] = null;
  let storedProblem: string | null = null;
  if (kv) {
    try {
      const parsed = parseConfigObject(JSON.parse(decodeStoredConfig(kv.value.toString('utf8'))));
      if (parsed.ok) stored = { config: parsed.config, revision: String(kv.mod_revision) };
      else storedProblem = `the stored config is invalid (${parsed.errors[0]!.path}: ${parsed.errors[0]!.message})`;
    } catch {
      storedProblem = 'the stored config is not JSON';
    }
  }
  const diff = stored ? diffConfigs(stored.config, next.config) : null;

  const services = next.config.services.filter((s) => !s.isAttached);
  const templates: ConfigPlan['templates'] = [];
  await pMap(services, async (service) => {
    const built = buildTemplate(next.config, service, next.unitFiles);
    const current = (await store.readService(service.name)).template.value;
    if (current && sameTemplate(current, built)) return;
    templates.push({ service: service.name, template: built, unitFileChanged: current !== null && !sameUnits(current, built) });
  }, { concurrency: 16 });
  templates.sort((a, b) => a.service.localeCompare(b.service));

  const configured = new Set(next.config.services.map((s) => s.name));
  const unmanaged: ConfigPlan['unmanaged'] = [];
  for (const service of await store.recordedServices()) {
    if (configured.has(service)) continue;
    unmanaged.push({ service, instances: (await store.readService(service)).instances.map((i) => i.name).sort() });
  }
  const changed = stored === null || !isEmptyDiff(diff!) || templates.length > 0;
  return { stored, storedProblem, diff, templates, unmanaged, changed };
}

/** The plan as lines for a terminal: the config diff, unit files changed, services left unmanaged. */
export function formatPlan(plan: ConfigPlan, next: DynamiteConfig, opts: { prune?: boolean } = {}): string[] {
  const lines: string[] = [];
  if (plan.stored === null) {
    lines.push(`no config stored in etcd${plan.storedProblem ? ` (${plan.storedProblem})` : ''}: everything is new`);
    for (const s of next.services) lines.push(`+ Service.${s.name}: added`);
    for (const p of next.policies) lines.push(`+ ScalingPolicy.${p.name}: added`);
  } else {
    lines.push(...formatConfigDiff(plan.diff!));
  }
  for (const t of plan.templates) if (t.unitFileChanged) lines.push(`~ Service.${t.service}: unit file changed (new instances use it; running ones keep theirs)`);
  const removed = new Set(plan.diff?.services.removed ?? []);
  for (const u of plan.unmanaged) {
    if (removed.has(u.service) || u.instances.length === 0 || opts.prune) continue;
    // Removed earlier (without --prune): still recorded, units still running.
    lines.push(`  Service.${u.service}: not in the config, not managed (${u.instances.length} recorded instance(s) left running)`);
  }
  const prunable = plan.unmanaged.filter((u) => u.instances.length > 0);
  if (opts.prune && prunable.length > 0) {
    for (const u of prunable) lines.push(`- Service.${u.service}: --prune destroys ${u.instances.join(', ')}`);
  } else if (prunable.length > 0) {
    lines.push(`  (${prunable.map((u) => u.service).join(', ')}: units left running; dynamite apply --prune destroys them)`);
  }
  return lines;
}

/**
 * Stores `next`: the templates of the plan (each guarded by its revision, keeping port slots), then the config and,
 * when there is something to ask, the apply request -- one transaction, so the leader sees both at once. Returns the
 * config's new revision, or null when nothing needed storing.
 */
export async function storeConfig(store: StateStore, next: ConfigToStore, plan: ConfigPlan, opts: { prune: boolean; by: string; now: number; fileDigest?: string }): Promise<string | null> {
  const prune = opts.prune ? plan.unmanaged.filter((u) => u.instances.length > 0).map((u) => u.service) : [];
  if (!plan.changed && prune.length === 0 && !opts.fileDigest) return null;
  await pMap(plan.templates, (t) => writeTemplate(store, next.config, t.service, t.template), { concurrency: 16 });
  const unitFiles = plan.templates.filter((t) => t.unitFileChanged).map((t) => t.service);
  await retryOnConflict('storing the config', async () => {
    const pending = await store.etcd.get(keys.applyRequest).exec();
    const kv = pending.kvs[0];
    const earlier = kv ? parseApplyRequest(kv.value.toString('utf8')) : null;
    const writes: Write[] = [{ put: keys.applicationConfiguration, value: encodeStoredConfig(next.config.raw) }];
    const request: ApplyRequest = {
      prune: union(earlier?.prune ?? [], prune),
      unitFiles: union(earlier?.unitFiles ?? [], unitFiles),
      by: opts.by,
      at: opts.now,
    };
    writes.push({ put: keys.applyRequest, value: JSON.stringify(request) });
    if (opts.fileDigest) writes.push({ put: keys.configurationFileDigest, value: opts.fileDigest });
    return (await store.commit([{ key: keys.applyRequest, modRevision: kv ? String(kv.mod_revision) : '0' }], writes)) ? undefined : CONFLICT;
  });
  const stored = await store.etcd.get(keys.applicationConfiguration).exec();
  return String(stored.kvs[0]?.mod_revision ?? stored.header.revision);
}

/** The apply request in etcd, or null when there is none or it cannot be read (then it is ignored). */
export function parseApplyRequest(text: string): ApplyRequest | null {
  try {
    const value = JSON.parse(text) as Partial<ApplyRequest>;
    const names = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : []);
    return { prune: names(value.prune), unitFiles: names(value.unitFiles), by: typeof value.by === 'string' ? value.by : '?', at: typeof value.at === 'number' ? value.at : 0 };
  } catch {
    return null;
  }
}

/**
 * The record of the config the leader applied last (`/_dynamite/init/applied_configuration`): its revision (what
 * `dynamite apply` waits for) and the config, as JSON -- or, when that is over what one etcd value may take, in the
 * stored config's compressed form (`compressedConfig`).
 */
export function appliedConfigValue(revision: string, raw: unknown): string {
  const stored = encodeStoredConfig(raw);
  if (stored.startsWith(COMPRESSED_CONFIG_PREFIX)) return JSON.stringify({ revision, compressedConfig: stored });
  return `{"revision":${JSON.stringify(revision)},"config":${stored}}`;
}

/** The config the leader applied last: its revision and the config itself. */
export async function readAppliedConfig(store: StateStore): Promise<{ revision: string; config: DynamiteConfig } | null> {
  const text = await store.getString(keys.appliedConfiguration);
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as { revision?: unknown; config?: unknown; compressedConfig?: unknown };
    const raw = typeof value.compressedConfig === 'string' ? JSON.parse(decodeStoredConfig(value.compressedConfig)) : value.config;
    const parsed = parseConfigObject(raw);
    return typeof value.revision === 'string' && parsed.ok ? { revision: value.revision, config: parsed.config } : null;
  } catch {
    return null;
  }
}

/** Polls until the leader applied the config stored at `revision` (or a later one); false after `timeoutMs`. */
export async function waitUntilApplied(store: StateStore, revision: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await store.getString(keys.appliedConfiguration);
    const applied = text === null ? null : (JSON.parse(text) as { revision?: unknown }).revision;
    if (typeof applied === 'string' && /^\d+$/.test(applied) && BigInt(applied) >= BigInt(revision)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

/** Templates compared on what they mean: the unit files and the service's settings (not port slots, paths, instances). */
function sameTemplate(a: TemplateRecord, b: TemplateRecord): boolean {
  const meaning = (t: TemplateRecord): unknown => ({
    name: t.name,
    unit: t.unit_file_details_json_dict,
    details: t.service_config_details,
    isTemplate: t.is_template,
    attached: t.attached_services.map(meaning),
  });
  return JSON.stringify(meaning(a)) === JSON.stringify(meaning(b));
}

function sameUnits(a: TemplateRecord, b: TemplateRecord): boolean {
  const units = (t: TemplateRecord): unknown => [t.unit_file_details_json_dict.options, t.attached_services.map((x) => [x.name, x.unit_file_details_json_dict.options])];
  return JSON.stringify(units(a)) === JSON.stringify(units(b));
}
