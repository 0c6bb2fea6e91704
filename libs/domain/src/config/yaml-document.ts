import {
  EVENT_ALIAS,
  EVENT_DOCUMENT,
  EVENT_MAPPING,
  EVENT_POP,
  EVENT_SCALAR,
  EVENT_SEQUENCE,
  NOT_RESOLVED,
  YAML11_SCHEMA,
  YAMLException,
  defineScalarTag,
  getScalarValue,
  load,
  parseEvents,
  type Event,
} from 'js-yaml';
import { ROOT_PATH, type ConfigError } from './errors';

/**
 * Reading YAML the way the original did (PyYAML `yaml.load`: YAML 1.1 scalars), plus the one thing PyYAML
 * silently allowed and we do not: the same key twice in one mapping (the last one won, unnoticed).
 */

export interface DuplicateKey {
  /** Path segments of the repeated key, from the document root. */
  path: (string | number)[];
  firstLine: number;
  line: number;
}

export type YamlReadResult =
  | { ok: true; value: unknown; duplicates: DuplicateKey[] }
  | { ok: false; error: ConfigError };

/** PyYAML's booleans: exactly these spellings (js-yaml's YAML 1.1 set also has `y`/`n`, which PyYAML reads as text). */
const PYYAML_TRUE = ['yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'];
const PYYAML_FALSE = ['no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'];

const pyyamlBoolTag = defineScalarTag<boolean>('tag:yaml.org,2002:bool', {
  implicit: true,
  implicitFirstChars: ['y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O'],
  resolve: (source) => (PYYAML_TRUE.includes(source) ? true : PYYAML_FALSE.includes(source) ? false : NOT_RESOLVED),
  identify: (data) => typeof data === 'boolean',
  represent: (data) => (data ? 'true' : 'false'),
});

/** YAML 1.1 (ints like `010` and `1:20`, merge keys, timestamps) with PyYAML's booleans. */
export const PYYAML_SCHEMA = YAML11_SCHEMA.withTags(pyyamlBoolTag);

/** Parses one YAML document. Syntax errors come back as one error with line and column. */
export function readYaml(text: string, source?: string): YamlReadResult {
  let value: unknown;
  try {
    // `json: true` lets a repeated key through (last one wins, as in PyYAML) so that it can be reported by
    // its path below, together with every other error, instead of stopping at the first one.
    value = load(text, { schema: PYYAML_SCHEMA, json: true, filename: source });
  } catch (err) {
    return { ok: false, error: syntaxError(err, source) };
  }
  if (value === null || value === undefined) {
    return { ok: false, error: { path: source ?? ROOT_PATH, message: 'the config is empty' } };
  }
  return { ok: true, value, duplicates: findDuplicateKeys(text) };
}

function syntaxError(err: unknown, source: string | undefined): ConfigError {
  const where = source ?? 'yaml';
  if (err instanceof YAMLException) {
    if (/input is empty/.test(err.reason)) return { path: source ?? ROOT_PATH, message: 'the config is empty' };
    if (err.mark) {
      return { path: `${where}:${err.mark.line + 1}:${err.mark.column + 1}`, message: `YAML syntax error: ${err.reason}` };
    }
    return { path: where, message: `YAML syntax error: ${err.reason}` };
  }
  return { path: where, message: `YAML error: ${err instanceof Error ? err.message : String(err)}` };
}

type Frame =
  | { kind: 'map'; path: (string | number)[]; seen: Map<string, number>; awaitingKey: boolean; key: string | number }
  | { kind: 'seq'; path: (string | number)[]; index: number };

/** Walks the parser's events and reports every key that appears twice in the same mapping. */
export function findDuplicateKeys(text: string): DuplicateKey[] {
  let events: Event[];
  try {
    events = parseEvents(text, {});
  } catch {
    return [];
  }
  const lineStarts = lineStartOffsets(text);
  const lineOf = (offset: number) => lineAt(lineStarts, offset);
  const duplicates: DuplicateKey[] = [];
  const stack: Frame[] = [];

  // Where a node that starts now sits: its path, and whether it is a mapping key.
  const place = (): { path: (string | number)[]; isKey: boolean } => {
    const top = stack[stack.length - 1];
    if (!top) return { path: [], isKey: false };
    if (top.kind === 'seq') return { path: [...top.path, top.index++], isKey: false };
    if (top.awaitingKey) return { path: top.path, isKey: true };
    return { path: [...top.path, top.key], isKey: false };
  };
  // After a value (or a key) is complete, the enclosing mapping expects the other half.
  const completeNode = () => {
    const top = stack[stack.length - 1];
    if (top && top.kind === 'map') top.awaitingKey = !top.awaitingKey;
  };

  for (const event of events) {
    switch (event.type) {
      case EVENT_DOCUMENT:
        stack.length = 0;
        break;
      case EVENT_SCALAR: {
        const top = stack[stack.length - 1];
        const { path, isKey } = place();
        if (isKey && top && top.kind === 'map') {
          const key = getScalarValue(text, event);
          const line = lineOf(event.valueStart);
          const firstLine = top.seen.get(key);
          if (firstLine !== undefined && key !== '<<') duplicates.push({ path: [...path, key], firstLine, line });
          else top.seen.set(key, line);
          top.key = key;
        }
        completeNode();
        break;
      }
      case EVENT_ALIAS: {
        const top = stack[stack.length - 1];
        const { isKey } = place();
        if (isKey && top && top.kind === 'map') top.key = '*';
        completeNode();
        break;
      }
      case EVENT_MAPPING:
      case EVENT_SEQUENCE: {
        const top = stack[stack.length - 1];
        const { path, isKey } = place();
        // A collection used as a key (rare, `? [a, b]: c`) cannot be named; its contents are skipped under `?`.
        const ownPath = isKey ? [...path, '?'] : path;
        if (isKey && top && top.kind === 'map') top.key = '?';
        stack.push(
          event.type === EVENT_MAPPING
            ? { kind: 'map', path: ownPath, seen: new Map(), awaitingKey: true, key: '' }
            : { kind: 'seq', path: ownPath, index: 0 },
        );
        break;
      }
      case EVENT_POP:
        if (stack.length > 0) {
          stack.pop();
          completeNode();
        }
        break;
    }
  }
  return duplicates;
}

function lineStartOffsets(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function lineAt(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
