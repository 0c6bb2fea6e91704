import { resolve } from 'node:path';
import { CONFIG_FILE_MAX_BYTES, parseConfig, parseConfigObject, type ParseConfigResult } from '@dynamite/domain';
import type { FolderOptions, LoadConfigOptions, LoadResult } from './types';
import { indexUnitFiles, mergeServiceFolders } from './service-folders';
import { readServiceUnitFiles } from './unit-files';
import { readTextFile } from './read-text-file';

/**
 * Reads a Dynamite YAML config and the unit files its services name, and validates both.
 * Never throws for bad input: every problem comes back as an error naming its place.
 */
export function loadConfig(opts: LoadConfigOptions): LoadResult {
  const cwd = opts.cwd ?? process.cwd();
  const file = resolve(cwd, opts.configFile);
  const read = readTextFile(file, CONFIG_FILE_MAX_BYTES);
  if (!read.ok) {
    const why =
      read.code === 'ENOENT' ? 'config file not found' : read.code === 'EISDIR' ? 'is a folder, not a config file' : `config file ${read.message}`;
    return { ok: false, errors: [{ path: opts.configFile, message: file === opts.configFile ? why : `${why} (${file})` }] };
  }
  return withUnitFiles(parseFileText(file, read.text, opts.configFile), opts, cwd);
}

/**
 * The last parse of each config file, by its text: a scheduler reads its file at start and again at each election,
 * and parsing a config of 10,000 services takes seconds -- long enough, inside an election, for the leader's lease
 * to expire. Unit files are read again every time (cheap). A parse result is never modified once made.
 */
const lastParse = new Map<string, { text: string; source: string; parsed: ParseConfigResult }>();

function parseFileText(file: string, text: string, source: string): ParseConfigResult {
  const last = lastParse.get(file);
  if (last && last.text === text && last.source === source) return last.parsed;
  const parsed = parseConfig(text, { source });
  lastParse.set(file, { text, source, parsed });
  return parsed;
}

/**
 * The same for an already parsed config, e.g. the copy stored in etcd at `/_dynamite/init/application_configuration`
 * (`JSON.parse` of it). Unit files are read from the folders again.
 */
export function loadConfigFromObject(raw: unknown, opts: FolderOptions = {}): LoadResult {
  return withUnitFiles(parseConfigObject(raw), opts, opts.cwd ?? process.cwd());
}

function withUnitFiles(parsed: ParseConfigResult, opts: FolderOptions, cwd: string): LoadResult {
  if (!parsed.ok) return parsed;
  const folders = mergeServiceFolders(parsed.config.serviceFolders, opts.serviceFolders ?? [], cwd);
  const index = indexUnitFiles(folders);
  const units = readServiceUnitFiles(parsed.config, index.files, folders);
  // With a folder missing, "unit file not found" would only repeat that error for every service.
  const errors = index.unreadable > 0 ? index.errors : [...index.errors, ...units.errors];
  if (errors.length > 0) return { ok: false, errors };
  const config = { ...parsed.config, serviceFolders: folders.map((f) => f.path) };
  return { ok: true, config, unitFiles: units.unitFiles, warnings: config.warnings };
}
