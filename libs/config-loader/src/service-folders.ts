import { readdirSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigError } from '@dynamite/domain';

/** A folder to search, with the name the user gave it (for error messages). */
export interface ServiceFolder {
  /** Where it came from: `ServiceFiles.PathList[0]` or `--service_folder`. */
  label: string;
  /** As written. */
  given: string;
  /** Absolute. */
  path: string;
}

/**
 * `ServiceFiles.PathList` first, then `--service_folder` values not already listed, as the original merged
 * them; relative paths resolve against `cwd`. The same folder named twice is searched once.
 */
export function mergeServiceFolders(pathList: string[], cliFolders: string[], cwd: string): ServiceFolder[] {
  const folders: ServiceFolder[] = [];
  const seen = new Set<string>();
  const add = (given: string, label: string) => {
    const path = resolve(cwd, given);
    const identity = realOrSelf(path);
    if (seen.has(identity)) return;
    seen.add(identity);
    folders.push({ label, given, path });
  };
  pathList.forEach((given, index) => add(given, `ServiceFiles.PathList[${index}]`));
  cliFolders.forEach((given) => add(given, '--service_folder'));
  return folders;
}

/**
 * Every folder must exist; their files are indexed by name, and a name in two folders is an error. Anything
 * but a folder is indexed (a FIFO or a device too), so that a unit file that is not a regular file is reported
 * as such when it is read, instead of as missing.
 */
export function indexUnitFiles(folders: ServiceFolder[]): { files: Map<string, string>; errors: ConfigError[]; unreadable: number } {
  const files = new Map<string, string>();
  const errors: ConfigError[] = [];
  let unreadable = 0;
  for (const folder of folders) {
    const shown = folder.given === folder.path ? `"${folder.given}"` : `"${folder.given}" (${folder.path})`;
    let names: string[];
    try {
      if (!statSync(folder.path).isDirectory()) {
        errors.push({ path: folder.label, message: `${shown} is not a folder` });
        unreadable++;
        continue;
      }
      names = readdirSync(folder.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      errors.push({
        path: folder.label,
        message: code === 'ENOENT' ? `folder ${shown} does not exist` : `folder ${shown} cannot be read (${code ?? String(err)})`,
      });
      unreadable++;
      continue;
    }
    for (const name of names.sort()) {
      const path = resolve(folder.path, name);
      if (!isIndexable(path)) continue;
      const other = files.get(name);
      if (other !== undefined) {
        errors.push({ path: folder.label, message: `unit file "${name}" is in two folders: ${other} and ${path}` });
        continue;
      }
      files.set(name, path);
    }
  }
  return { files, errors, unreadable };
}

function isIndexable(path: string): boolean {
  try {
    return !statSync(path).isDirectory(); // follows symlinks, as the original's os.path.isfile did
  } catch {
    return false; // a dangling symlink
  }
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
