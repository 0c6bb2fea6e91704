import type { z } from 'zod';
import type { ConfigWarning, DynamiteConfig, EngineSettings, ScalingPolicyConfig, ServiceConfig } from './types';
import { ROOT_PATH, joinPath, sortByPath, type ConfigError, type ParseConfigResult } from './errors';
import { readYaml, type DuplicateKey } from './yaml-document';
import { checkKeys } from './known-keys';
import { describe, isMapping } from './scalars';
import { engineSchema, etcdSchema, fleetEndpointSchema, policySchema, serviceFilesSchema, serviceSchema, type PolicyEntry } from './schema';
import { buildService } from './build-service';
import { buildPolicy } from './build-policy';
import { buildEngine, DEFAULT_ENGINE_ENTRY } from './build-engine';
import { storedSizeErrors } from './stored-size';
import { quote } from './names';
import { ENTRIES_MAX } from './limits';
import { crossCheck } from './cross-checks';
import { buildNotifications } from './notifications';

/** Defaults of the etcd directories, as the original's README and code used them. */
export const DEFAULT_APPLICATION_BASE_PATH = '/services';
export const DEFAULT_METRICS_BASE_PATH = '/metrics';

/**
 * Parses and validates a Dynamite config in the original YAML format, with or without its `Dynamite:` root.
 * Every problem is reported at once, each named by its key path below the root. Pure: no file access.
 */
export function parseConfig(yamlText: string, opts: { source?: string } = {}): ParseConfigResult {
  const read = readYaml(yamlText, opts.source);
  if (!read.ok) return { ok: false, errors: [read.error] };
  return parseDocument(read.value, read.duplicates);
}

/** Validates an already parsed document, e.g. the copy stored in etcd at `/_dynamite/init/application_configuration`. */
export function parseConfigObject(raw: unknown): ParseConfigResult {
  return parseDocument(raw, []);
}

/** The etcd copy as stored: `JSON.stringify(config.raw)`. */
export function parseConfigJson(jsonText: string, opts: { source?: string } = {}): ParseConfigResult {
  let raw: unknown;
  try {
    raw = JSON.parse(jsonText);
  } catch (err) {
    return { ok: false, errors: [{ path: opts.source ?? ROOT_PATH, message: `not valid JSON: ${err instanceof Error ? err.message : String(err)}` }] };
  }
  return parseConfigObject(raw);
}

function parseDocument(doc: unknown, duplicates: DuplicateKey[]): ParseConfigResult {
  const errors: ConfigError[] = [];
  const warnings: ConfigWarning[] = [];

  if (!isMapping(doc)) {
    return { ok: false, errors: [{ path: ROOT_PATH, message: `must be a mapping with the Dynamite: sections (got ${describe(doc)})` }] };
  }
  const rooted = Object.prototype.hasOwnProperty.call(doc, 'Dynamite');
  const body = rooted ? doc.Dynamite : doc;
  if (rooted) {
    for (const key of Object.keys(doc)) {
      if (key !== 'Dynamite') warnings.push({ path: key, message: 'ignored: outside the Dynamite: root' });
    }
    if (body === null || body === undefined) return { ok: false, errors: [{ path: 'Dynamite', message: 'is empty' }] };
    if (!isMapping(body)) return { ok: false, errors: [{ path: 'Dynamite', message: `must be a mapping (got ${describe(body)})` }] };
  }
  const root = body as Record<string, unknown>;

  errors.push(...duplicateErrors(duplicates, rooted));
  const keys = checkKeys(root, { rootless: !rooted });
  errors.push(...keys.errors);
  warnings.push(...keys.warnings);

  const section = <S extends z.ZodType>(name: string, schema: S): z.output<S> | null => {
    const value = root[name];
    if (value === undefined || value === null) return null;
    return parseAt(schema, value, [name], errors);
  };

  const serviceFiles = section('ServiceFiles', serviceFilesSchema);
  const fleet = section('FleetAPIEndpoint', fleetEndpointSchema);
  const etcd = section('ETCD', etcdSchema);
  const engine = section('Engine', engineSchema);

  // Services and policies: each entry on its own, so one bad entry never hides the errors of another.
  const serviceEntries = entriesOf(root, 'Service', errors);
  const policyEntries = entriesOf(root, 'ScalingPolicy', errors);
  if (root.Service === undefined || root.Service === null) {
    warnings.push({ path: 'Service', message: 'no services are configured, so there is nothing to scale' });
  }

  const services: ServiceConfig[] = [];
  for (const [name, value] of serviceEntries) {
    const prefix = ['Service', name];
    const { entry, brokenKeys } = parseEntry(serviceSchema, value, prefix, errors);
    if (entry === null) continue;
    // A service with a bad field still takes part in the cross checks (its policies, its attached services),
    // but says nothing more about the bad field itself: that error is already reported.
    const broken = brokenKeys.map((key) => joinPath([...prefix, key]));
    const about = (path: string) => broken.some((b) => path === b || path.startsWith(`${b}.`) || path.startsWith(`${b}[`));
    const built = buildService(name, entry, isMapping(value) ? value : undefined);
    services.push(built.service);
    errors.push(...built.errors.filter((e) => !about(e.path)));
    warnings.push(...built.warnings.filter((w) => !about(w.path)));
  }
  const policies: ScalingPolicyConfig[] = [];
  for (const [name, value] of policyEntries) {
    const entry = parseAt(policySchema, value, ['ScalingPolicy', name], errors) as PolicyEntry | null;
    if (entry === null) continue;
    const built = buildPolicy(name, entry);
    policies.push(built.policy);
    errors.push(...built.errors);
  }

  const rawServices = new Map(serviceEntries);
  const cross = crossCheck({
    services,
    policies,
    declaredServices: serviceEntries.map(([name]) => name),
    declaredPolicies: policyEntries.map(([name]) => name),
    policyRefPath: (service, key, index) => {
      const raw = rawServices.get(service);
      return isMapping(raw) && Array.isArray(raw[key]) ? [key, index] : [key];
    },
  });
  errors.push(...cross.errors);
  warnings.push(...cross.warnings);
  const notifications = buildNotifications(root.Notifications, services, serviceEntries.map(([name]) => name));
  errors.push(...notifications.errors);
  warnings.push(...notifications.warnings);

  const etcdPaths = {
    applicationBasePath: etcd?.application_base_path ?? DEFAULT_APPLICATION_BASE_PATH,
    metricsBasePath: etcd?.metrics_base_path ?? DEFAULT_METRICS_BASE_PATH,
  };
  if (etcd?.application_base_path == null) {
    warnings.push({ path: 'ETCD.application_base_path', message: `not given; using "${DEFAULT_APPLICATION_BASE_PATH}"` });
  }
  if (etcd?.metrics_base_path == null) {
    warnings.push({ path: 'ETCD.metrics_base_path', message: `not given; using "${DEFAULT_METRICS_BASE_PATH}"` });
  }

  const engineBuild = buildEngine(engine ?? DEFAULT_ENGINE_ENTRY);
  errors.push(...engineBuild.errors);

  const stored = rooted ? doc : { Dynamite: doc };
  errors.push(...storedSizeErrors(stored));

  if (errors.length > 0) return { ok: false, errors: unique(sortByPath(errors)) };

  const engineSettings: EngineSettings = engineBuild.settings;
  const config: DynamiteConfig = {
    serviceFolders: serviceFiles?.PathList ?? [],
    fleetEndpoint: fleet && fleet.ip !== null && fleet.port !== null ? { ip: fleet.ip.trim(), port: fleet.port } : null,
    etcd: etcdPaths,
    services,
    policies,
    engine: engineSettings,
    notifications: notifications.notifications,
    warnings: unique(sortByPath(warnings)),
    raw: stored,
  };
  return { ok: true, config };
}

/** Runs a schema on one value; its issues become errors under `prefix`. */
function parseAt<S extends z.ZodType>(schema: S, value: unknown, prefix: (string | number)[], errors: ConfigError[]): z.output<S> | null {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    errors.push({ path: joinPath([...prefix, ...(issue.path as (string | number)[])]), message: issue.message });
  }
  return null;
}

/**
 * Runs an entry's schema. When some fields are bad, their errors are recorded and the entry is parsed again
 * without them (defaults in their place), so the rest of it can still be checked; `brokenKeys` names them.
 * Returns no entry when even that fails (a required field is bad, or the entry is not a mapping).
 */
function parseEntry<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix: (string | number)[],
  errors: ConfigError[],
): { entry: z.output<S> | null; brokenKeys: string[] } {
  const first = schema.safeParse(value);
  if (first.success) return { entry: first.data, brokenKeys: [] };
  for (const issue of first.error.issues) {
    errors.push({ path: joinPath([...prefix, ...(issue.path as (string | number)[])]), message: issue.message });
  }
  if (!isMapping(value)) return { entry: null, brokenKeys: [] };
  const brokenKeys = [...new Set(first.error.issues.map((i) => i.path[0]).filter((k): k is string => typeof k === 'string'))];
  const repaired = Object.fromEntries(Object.entries(value).filter(([key]) => !brokenKeys.includes(key)));
  const second = schema.safeParse(repaired);
  return { entry: second.success ? second.data : null, brokenKeys };
}

/** The entries of `Service:` or `ScalingPolicy:` in file order; empty when the section is absent or empty. */
function entriesOf(root: Record<string, unknown>, name: string, errors: ConfigError[]): [string, unknown][] {
  const value = root[name];
  if (value === undefined || value === null) return [];
  const what = name === 'Service' ? 'service' : 'policy';
  if (!isMapping(value)) {
    errors.push({ path: name, message: `must be a mapping of ${what} names to their settings (got ${describe(value)})` });
    return [];
  }
  const entries = Object.entries(value);
  if (entries.length > ENTRIES_MAX[what]) {
    // None of them is checked: the count alone is the error, and checking them would compare them pairwise.
    errors.push({ path: name, message: `declares ${entries.length} ${what === 'service' ? 'services' : 'policies'}; at most ${ENTRIES_MAX[what]} are allowed` });
    return [];
  }
  return entries;
}

/** A key given twice: PyYAML kept the last one without a word; we name both lines. */
function duplicateErrors(duplicates: DuplicateKey[], rooted: boolean): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const dup of duplicates) {
    let path = dup.path;
    if (rooted) {
      if (path[0] !== 'Dynamite') continue; // outside the root: ignored like every key there
      path = path.slice(1);
    }
    const lines = `lines ${dup.firstLine} and ${dup.line}`;
    const [section, name] = path;
    let message: string;
    if (path.length === 0) message = `the Dynamite: root is given twice (${lines})`;
    else if (path.length === 2 && section === 'Service') message = `service ${quote(String(name))} is defined twice (${lines})`;
    else if (path.length === 2 && section === 'ScalingPolicy') message = `policy ${quote(String(name))} is defined twice (${lines})`;
    else message = `key is given twice (${lines}); the second value would silently win`;
    errors.push({ path: path.length === 0 ? 'Dynamite' : joinPath(path), message });
  }
  return errors;
}

function unique<T extends { path: string; message: string }>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = `${item.path}\u0000${item.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
