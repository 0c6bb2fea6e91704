import type { ConfigWarning, DynamiteConfig } from './types';
import { escapeControlCharacters, pathSegment } from './names';

/** One problem in a config, named by the dotted path of its key below the `Dynamite:` root. */
export interface ConfigError {
  /** e.g. `Service.apache.scale_up_policy.ScalingPolicy`, `ServiceFiles.PathList[1]`, or `config.yaml:3:5` for YAML syntax. */
  path: string;
  message: string;
}

export type ParseConfigResult = { ok: true; config: DynamiteConfig } | { ok: false; errors: ConfigError[] };

/**
 * `<path>: <message>`, the one-line form the CLI prints. Paths and messages quote what they take from the
 * config; control characters that still slip in (a file name, a parser's message) are escaped here, so one
 * error is always one line.
 */
export function formatConfigError(e: ConfigError | ConfigWarning): string {
  return escapeControlCharacters(`${e.path}: ${e.message}`);
}

/**
 * Joins path segments: names with dots, list indexes in brackets (`ServiceFiles.PathList[0]`). A name with
 * characters outside fleet's unit-name set is quoted (`Service."a b".type`).
 */
export function joinPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const shown = pathSegment(String(segment));
      out += out === '' ? shown : `.${shown}`;
    }
  }
  return out === '' ? ROOT_PATH : out;
}

/** The path of the document itself (it has no key). */
export const ROOT_PATH = '(root)';

/** Errors in a stable order: by path, then message, so output does not depend on check order. */
export function sortByPath<T extends { path: string; message: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => (a.path === b.path ? cmp(a.message, b.message) : cmp(a.path, b.path)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
