import { z } from 'zod';
import type { ComparativeOperator, TimeUnit } from './types';
import { didYouMean } from './suggest';
import { PORT_MAX } from './limits';
import { quote } from './names';

/**
 * Field schemas for single config values, with the messages users see. Values are read the way the
 * original read them: YAML 1.1 booleans, and numbers given as text are numbers (`float(x)` in Python).
 * A key that is present with no value (`min_instance:`) counts as absent, as `None` did.
 */

export const TIME_UNITS: readonly TimeUnit[] = ['second', 'minute', 'hour'];
export const OPERATORS: readonly ComparativeOperator[] = ['lt', 'gt'];
export const UNIT_MS: Record<TimeUnit, number> = { second: 1_000, minute: 60_000, hour: 3_600_000 };

type Issue = { message: string; path?: (string | number)[] };
/** A converter either returns the value or the issues that make it invalid. */
type Converted<T> = { value: T } | { issues: Issue[] };
type Convert<T> = (input: unknown) => Converted<T>;

const invalid = (message: string, path?: (string | number)[]): { issues: Issue[] } => ({ issues: [{ message, path }] });

function fromConverter<T>(convert: Convert<T>): z.ZodType<T> {
  return z.unknown().transform((input, ctx) => {
    const result = convert(input);
    if ('value' in result) return result.value;
    for (const issue of result.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path ?? [] });
    return z.NEVER;
  }) as unknown as z.ZodType<T>;
}

const isAbsent = (v: unknown) => v === undefined || v === null;

/** A required value: absent or empty is an error. */
export function required<T>(convert: Convert<T>): z.ZodType<T> {
  return fromConverter((input) =>
    input === undefined ? invalid('is required') : input === null ? invalid('is required (the key has no value)') : convert(input),
  );
}

/** An optional value: absent or empty gives `fallback`. */
export function optional<T, F>(convert: Convert<T>, fallback: F): z.ZodType<T | F> {
  return fromConverter<T | F>((input) => (isAbsent(input) ? { value: fallback } : convert(input)));
}

/** How a value is shown in "(got ...)": text quoted, lists and mappings by kind. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return quote(v);
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid date' : `the date ${v.toISOString()}`;
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

// ---- converters ----

export const text: Convert<string> = (v) => {
  if (typeof v === 'string') return v.trim() === '' ? invalid('must not be empty') : { value: v };
  return invalid(`must be text (got ${describe(v)})`);
};

/** Python's float() syntax (surrounding spaces and `_` between digits allowed); infinities and NaN refused. */
const NUMERIC = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;

export const finiteNumber: Convert<number> = (v) => {
  if (typeof v === 'number') return Number.isFinite(v) ? { value: v } : invalid(`must be a finite number (got ${describe(v)})`);
  if (typeof v === 'string' && NUMERIC.test(v.trim())) {
    // `1e309` is valid syntax but no finite number (YAML 1.1 reads it as text, so it arrives here).
    const value = Number(v.trim().replace(/_/g, ''));
    return Number.isFinite(value) ? { value } : invalid(`must be a finite number (got ${describe(v)})`);
  }
  return invalid(`must be a number (got ${describe(v)})`);
};

function checked(base: Convert<number>, ok: (n: number) => boolean, what: string): Convert<number> {
  return (v) => {
    const result = base(v);
    if (!('value' in result)) {
      const [issue] = result.issues;
      // "must be a finite number" says more about `1e309` than "must be a positive number" would.
      return issue && issue.message.startsWith('must be a finite number') ? result : invalid(`must be ${what} (got ${describe(v)})`);
    }
    return ok(result.value) ? result : invalid(`must be ${what} (got ${result.value})`);
  };
}

/** `base`, and at most `max` (with why: no count or port may exceed what a port number can hold). */
function atMost(base: Convert<number>, max: number, why: string): Convert<number> {
  return (v) => {
    const result = base(v);
    if (!('value' in result) || result.value <= max) return result;
    return invalid(`must be at most ${max} ${why} (got ${result.value})`);
  };
}

export const positiveNumber = checked(finiteNumber, (n) => n > 0, 'a positive number');
export const nonNegativeNumber = checked(finiteNumber, (n) => n >= 0, 'zero or a positive number');
export const positiveInteger = checked(finiteNumber, (n) => Number.isInteger(n) && n > 0, 'a positive whole number');
export const nonNegativeInteger = checked(finiteNumber, (n) => Number.isInteger(n) && n >= 0, 'zero or a positive whole number');
export const port = checked(finiteNumber, (n) => Number.isInteger(n) && n >= 1 && n <= PORT_MAX, `a port number from 1 to ${PORT_MAX}`);
/** `min_instance` / `max_instance`: each instance has a port of its own. */
export const instanceCount = (least: 0 | 1) =>
  atMost(least === 0 ? nonNegativeInteger : positiveInteger, PORT_MAX, '(each instance has a port of its own)');
/** `ports_per_instance`. */
export const portCount = atMost(positiveInteger, PORT_MAX, '(there are 65535 ports)');

/** YAML 1.1 spellings, in any case, whether YAML already read them as booleans or they were quoted. */
const TRUE_WORDS = ['yes', 'true', 'on'];
const FALSE_WORDS = ['no', 'false', 'off'];

export const boolean: Convert<boolean> = (v) => {
  if (typeof v === 'boolean') return { value: v };
  if (typeof v === 'string') {
    const word = v.trim().toLowerCase();
    if (TRUE_WORDS.includes(word)) return { value: true };
    if (FALSE_WORDS.includes(word)) return { value: false };
  }
  return invalid(`must be true or false (got ${describe(v)})`);
};

export const timeUnit: Convert<TimeUnit> = (v) => {
  if (typeof v === 'string' && (TIME_UNITS as readonly string[]).includes(v)) return { value: v as TimeUnit };
  const hint = typeof v === 'string' ? didYouMean(v, TIME_UNITS) : '';
  return invalid(`unknown unit ${describe(v)}; must be second, minute or hour${hint ? ` (${hint.slice(2)})` : ''}`);
};

export const operator: Convert<ComparativeOperator> = (v) => {
  if (v === 'lt' || v === 'gt') return { value: v };
  return invalid(`unknown operator ${describe(v)}; must be lt (below the threshold) or gt (above it)`);
};

/** A list of texts; `[]` when empty. Each bad item is reported at its own index. */
export const textList: Convert<string[]> = (v) => {
  if (!Array.isArray(v)) return invalid(`must be a list (got ${describe(v)})`);
  const issues: Issue[] = [];
  const values: string[] = [];
  v.forEach((item, index) => {
    const result = text(item);
    if ('value' in result) values.push(result.value);
    else for (const issue of result.issues) issues.push({ message: issue.message, path: [index] });
  });
  return issues.length > 0 ? { issues } : { value: values };
};

/** A mapping (YAML map -> plain object). */
export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
