import { ROOT_PATH, joinPath, type ConfigError } from './errors';
import { CONFIG_JSON_MAX_BYTES, CONFIG_MAX_DEPTH, ETCD_DEFAULT_MAX_REQUEST_BYTES, STORED_CONFIG_MAX_BYTES } from './limits';
import { isMapping } from './scalars';
import { encodeStoredConfig } from './stored-config';

/**
 * The config is stored in etcd from `JSON.stringify` of the whole document (as the original did; gzipped when
 * large, stored-config.ts), so whatever is accepted must fit there: at most CONFIG_JSON_MAX_BYTES of JSON, nested at
 * most CONFIG_MAX_DEPTH deep, and a stored value of at most STORED_CONFIG_MAX_BYTES. YAML aliases are what makes
 * this worth checking: js-yaml shares an aliased node instead of copying it, so a 1 KB "billion laughs" document
 * loads in no time, and only turns into gigabytes (or, with an alias inside its own anchor, a cycle) when it is
 * serialized. The walk below is iterative and stops as soon as the document is known to be too big or too deep;
 * only a document that passes is serialized, to measure it exactly.
 */
export function storedSizeErrors(stored: Record<string, unknown>): ConfigError[] {
  // Parts are named as the errors name them: the keys below the `Dynamite:` root, and any key beside it.
  const parts: [string, unknown][] = [];
  for (const [key, value] of Object.entries(stored)) {
    if (key === 'Dynamite' && isMapping(value)) parts.push(...Object.entries(value));
    else parts.push([key, value]);
  }
  let total = 0;
  let largest: { name: string; size: number } | null = null;
  for (const [name, value] of parts) {
    const measured = measureJson(value, CONFIG_JSON_MAX_BYTES - total);
    if (measured.tooDeep) {
      return [{
        path: joinPath([name]),
        message: `nests lists and mappings more than ${CONFIG_MAX_DEPTH} levels deep, counting what aliases expand to ` +
          '(an alias inside its own anchor nests without end); the config could not be stored in etcd as JSON',
      }];
    }
    total += measured.size + name.length + 4;
    if (largest === null || measured.size > largest.size) largest = { name, size: measured.size };
    if (total > CONFIG_JSON_MAX_BYTES) return [tooLarge(name, 'the limit is passed in this part')];
  }
  // The walk counts a lower bound (no escapes, one byte a character); the document is now known to be small
  // enough to serialize, so measure the JSON itself.
  let json: string;
  try {
    json = JSON.stringify(stored);
  } catch (err) {
    // Not from YAML or JSON (a BigInt, a throwing toJSON): an object handed to parseConfigObject directly.
    return [{ path: ROOT_PATH, message: `cannot be stored in etcd as JSON: ${err instanceof Error ? err.message : String(err)}` }];
  }
  if (largest === null) return [];
  const jsonBytes = utf8Length(json);
  if (jsonBytes > CONFIG_JSON_MAX_BYTES) return [tooLarge(largest.name, 'this is its largest part')];
  if (jsonBytes <= STORED_CONFIG_MAX_BYTES) return [];
  const storedBytes = encodeStoredConfig(stored, { json }).length;
  if (storedBytes <= STORED_CONFIG_MAX_BYTES) return [];
  return [{
    path: joinPath([largest.name]),
    message:
      `the config is ${jsonBytes} bytes as JSON and still ${storedBytes} compressed, over the ${mib(STORED_CONFIG_MAX_BYTES)} ` +
      `(${STORED_CONFIG_MAX_BYTES} bytes) it may take in etcd (whose requests are limited to ${mib(ETCD_DEFAULT_MAX_REQUEST_BYTES)} ` +
      'by default); this is its largest part',
  }];
}

function tooLarge(name: string, where: string): ConfigError {
  return {
    path: joinPath([name]),
    message: `the config is over ${mib(CONFIG_JSON_MAX_BYTES)} (${CONFIG_JSON_MAX_BYTES} bytes) as JSON; ${where} (an alias counts once for every use)`,
  };
}

function mib(bytes: number): string {
  return `${bytes / 1024 / 1024} MiB`;
}

/**
 * A lower bound of the length of `JSON.stringify(value)`, counted without building it, and whether it nests
 * deeper than CONFIG_MAX_DEPTH. Stops early once the count passes `budget`.
 */
function measureJson(value: unknown, budget: number): { size: number; tooDeep: boolean } {
  let size = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node === 'string') size += node.length + 2;
    else if (typeof node === 'number' || typeof node === 'boolean' || typeof node === 'bigint') size += String(node).length;
    else if (node === null || node === undefined || node instanceof Date) size += 4;
    else if (typeof node === 'object') {
      if (depth > CONFIG_MAX_DEPTH) return { size, tooDeep: true };
      if (Array.isArray(node)) {
        size += 1 + Math.max(node.length, 1);
        for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], depth + 1]);
      } else {
        size += 2;
        for (const [key, child] of Object.entries(node)) {
          size += key.length + 4;
          stack.push([child, depth + 1]);
        }
      }
    }
    if (size > budget) break;
  }
  return { size, tooDeep: false };
}

/** Bytes of `text` in UTF-8 (JSON.stringify output has no lone surrogates: they come out as `\udxxx`). */
function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
