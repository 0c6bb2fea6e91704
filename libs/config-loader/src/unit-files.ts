import { type ConfigError, type DynamiteConfig } from '@dynamite/domain';
import { UNIT_FILE_MAX_BYTES, UnitFileParseError, parseUnitFile } from '@dynamite/unit-files';
import type { UnitFileSource } from './types';
import type { ServiceFolder } from './service-folders';
import { readTextFile } from './read-text-file';

/** Reads and parses the unit file of every service (attached ones too); each missing or bad file is an error. */
export function readServiceUnitFiles(
  config: DynamiteConfig,
  index: Map<string, string>,
  folders: ServiceFolder[],
): { unitFiles: Map<string, UnitFileSource>; errors: ConfigError[] } {
  const unitFiles = new Map<string, UnitFileSource>();
  const errors: ConfigError[] = [];
  const failed = new Set<string>();
  for (const service of config.services) {
    const name = service.unitFile;
    if (unitFiles.has(name) || failed.has(name)) continue;
    const at = `Service.${service.name}.name_of_unit_file`;
    const path = index.get(name);
    if (path === undefined) {
      failed.add(name);
      const where =
        folders.length === 0
          ? ': no service folders are given (list them under ServiceFiles.PathList or pass -s/--service_folder)'
          : ` in ${folders.map((f) => f.path).join(', ')}`;
      errors.push({ path: at, message: `unit file "${name}" not found${where}` });
      continue;
    }
    const read = readTextFile(path, UNIT_FILE_MAX_BYTES);
    if (!read.ok) {
      failed.add(name);
      errors.push({ path: at, message: `unit file ${path} ${read.message}` });
      continue;
    }
    const text = read.text;
    try {
      unitFiles.set(name, { name, path, text, options: parseUnitFile(text) });
    } catch (err) {
      failed.add(name);
      if (!(err instanceof UnitFileParseError)) throw err;
      errors.push({ path: at, message: `unit file ${path} cannot be parsed: ${err.message}` });
    }
  }
  return { unitFiles, errors };
}
