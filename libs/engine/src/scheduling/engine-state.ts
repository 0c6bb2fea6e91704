import { createHash } from 'node:crypto';
import { decodeStoredConfig, encodeStoredConfig, findService, keys, parseConfigObject, usedPortNumbers, type DynamiteConfig } from '@dynamite/domain';
import { loadConfig, loadConfigFromObject, type UnitFileSource } from '@dynamite/config-loader';
import { CONFLICT, commitTemplate, retryOnConflict, type DryRunRecord, type StateStore, type TemplateRecord } from '@dynamite/store';
import pMap from 'p-map';
import { buildTemplate } from './template-record';

/** A config that could not be loaded: every problem, each naming its place. */
export class ConfigLoadError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigLoadError';
  }
}

export interface LoadedConfig {
  config: DynamiteConfig;
  /** Unit files by name, or null when the stored templates are to be kept (no folders to read them from). */
  unitFiles: Map<string, UnitFileSource> | null;
  source: 'file' | 'etcd';
  /** With a config file: the digest of the file and its unit files, stored with them (configFileDigest). */
  fileDigest?: string;
  /** Why the stored config was kept although a file was given (logged by the scheduler). */
  keptStored?: string;
}

/** The digest of a config file and the unit files it names: what tells a scheduler whether its file changed. */
export function configFileDigest(config: DynamiteConfig, unitFiles: Map<string, { name: string; text: string }>): string {
  const hash = createHash('sha256').update(JSON.stringify(config.raw));
  for (const unit of [...unitFiles.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) hash.update(`\u0000${unit.name}\u0000${unit.text}`);
  return hash.digest('hex');
}

/**
 * The config to run with. Without a file: the copy stored in etcd by an earlier start or `dynamite apply`, with unit
 * files from the folders if they are there, else the templates stored in etcd. With a file (-c): the file replaces
 * the stored copy -- unless it is the very file (and unit files) a scheduler stored last and another config was
 * stored since (`dynamite apply`): that newer config is kept, so a restart or a failover never undoes an apply.
 * `preferFile` (SIGHUP) always takes the file.
 */
export async function resolveConfig(store: StateStore, opts: { configFile?: string; serviceFolders?: string[] }, mode: { preferFile?: boolean } = {}): Promise<LoadedConfig> {
  if (opts.configFile) {
    const loaded = loadConfig({ configFile: opts.configFile, serviceFolders: opts.serviceFolders ?? [] });
    if (!loaded.ok) throw new ConfigLoadError(loaded.errors.map((e) => `${e.path}: ${e.message}`));
    const fileDigest = configFileDigest(loaded.config, loaded.unitFiles);
    const fromFile: LoadedConfig = { config: loaded.config, unitFiles: loaded.unitFiles, source: 'file', fileDigest };
    if (mode.preferFile || (await store.getString(keys.configurationFileDigest)) !== fileDigest) return fromFile;
    const storedText = await store.getString(keys.applicationConfiguration);
    const stored = storedText === null ? null : parseStored(storedText);
    if (stored === null || JSON.stringify(stored.raw) === JSON.stringify(loaded.config.raw)) return fromFile;
    return {
      config: stored, unitFiles: null, source: 'etcd', fileDigest,
      keptStored: `${opts.configFile} is unchanged since a scheduler stored it, and another config was stored since (dynamite apply): keeping that one (SIGHUP or change the file to use the file)`,
    };
  }
  const text = await store.getString(keys.applicationConfiguration);
  if (text === null) {
    throw new ConfigLoadError([`no config file given (-c/--config_file) and none stored in etcd at ${keys.applicationConfiguration}`]);
  }
  let json: string;
  try {
    json = decodeStoredConfig(text);
  } catch (err) {
    throw new ConfigLoadError([`${keys.applicationConfiguration}: ${(err as Error).message}; start with -c/--config_file to replace it`]);
  }
  let stored: unknown;
  try {
    stored = JSON.parse(json);
  } catch {
    throw new ConfigLoadError([`${keys.applicationConfiguration}: the stored config is not JSON; start with -c/--config_file to replace it`]);
  }
  const fromFolders = loadConfigFromObject(stored, { serviceFolders: opts.serviceFolders ?? [] });
  if (fromFolders.ok) return { config: fromFolders.config, unitFiles: fromFolders.unitFiles, source: 'etcd' };
  // The folders are not here (another machine): keep the stored templates, but the config itself must be valid.
  const parsed = parseConfigObject(stored);
  if (!parsed.ok) throw new ConfigLoadError(parsed.errors.map((e) => `${keys.applicationConfiguration}: ${e.path}: ${e.message}`));
  return { config: parsed.config, unitFiles: null, source: 'etcd' };
}

function parseStored(text: string): DynamiteConfig | null {
  try {
    const parsed = parseConfigObject(JSON.parse(decodeStoredConfig(text)));
    return parsed.ok ? parsed.config : null;
  } catch {
    return null;
  }
}

/**
 * Writes the original's bookkeeping keys: the status (Initializing/Recovering -> Running), the config as JSON and
 * one template per service, and the engine-wide dry run (`--dry_run` of the leading scheduler; before anything is
 * decided, so the first bound repairs already follow it). Existing instance records are kept: a restarted engine
 * carries on. `recovered` when an engine ran on this etcd before (any status is there, even one that cannot be
 * read: something wrote it).
 */
export async function writeEngineState(store: StateStore, loaded: LoadedConfig, opts: { dryRun?: DryRunRecord | null } = {}): Promise<'fresh' | 'recovered'> {
  const recovering = (await store.readApplicationStatus()) !== null;
  // Commits, not plain puts: a scheduler's store is fenced by its leadership.
  await store.commit([], [
    { put: keys.applicationStatus, value: recovering ? 'Recovering' : 'Initializing' },
    ...(loaded.source === 'file' ? [{ put: keys.applicationConfiguration, value: encodeStoredConfig(loaded.config.raw) }] : []),
    ...(loaded.source === 'file' && loaded.fileDigest ? [{ put: keys.configurationFileDigest, value: loaded.fileDigest }] : []),
    opts.dryRun ? { put: keys.dryRun, value: JSON.stringify(opts.dryRun) } : { del: keys.dryRun },
  ]);
  const unitFiles = loaded.unitFiles;
  if (unitFiles) {
    await pMap(loaded.config.services.filter((s) => !s.isAttached), (service) =>
      writeTemplate(store, loaded.config, service.name, buildTemplate(loaded.config, service, unitFiles)), { concurrency: 16 });
  }
  await store.commit([], [{ put: keys.applicationStatus, value: 'Running' }]);
  return recovering ? 'recovered' : 'fresh';
}

/** Writes a service's template, keeping the port slots of its recorded instances (guarded by the template's revision). */
export async function writeTemplate(store: StateStore, config: DynamiteConfig, service: string, template: TemplateRecord): Promise<void> {
  const svc = findService(config, service);
  await retryOnConflict(`writing the template of ${service}`, async () => {
    const records = await store.readService(service);
    const used = svc ? usedPortNumbers(svc, records.instances) : undefined;
    const next: TemplateRecord = { ...template, ...(used ? { used_port_numbers: used } : {}) };
    return (await commitTemplate(store, service, records.template.modRevision, next)) ? undefined : CONFLICT;
  });
}
