import type { ScalingPolicyConfig } from '../config/types';
import { quoteForMessage } from './quote';

/**
 * Sample values. A plain number when the policy's `metric` has no `.`; otherwise JSON in which the rest of the
 * metric name is looked up as one flat key first (`{"time_backend_response.p95": 12}`, as the original did),
 * then as a nested path (`{"time_backend_response": {"p95": 12}}`).
 *
 * A value is untrusted input: its size and its nesting are bounded before it is parsed, and nothing here
 * recurses over it, so a hostile value is one rejection among others, never a crash.
 */

export type SampleValueError = 'not_a_number' | 'not_finite' | 'bad_json' | 'missing_key' | 'too_large' | 'too_deep';

export type SampleValueResult =
  | { ok: true; value: number }
  | { ok: false; reason: SampleValueError; message: string };

/** The longest sample value read, in UTF-16 code units (a metric is a number, or a small JSON document). */
export const SAMPLE_VALUE_MAX_LENGTH = 64 * 1024;
/** The deepest nesting of arrays and objects in a JSON sample value. */
export const SAMPLE_VALUE_MAX_DEPTH = 32;

// Python's float() grammar without its inf/nan/underscore extras: "29", "30.5", "-1e3", ".5", "5.".
const DECIMAL_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
// Spellings of non-finite numbers, reported as not_finite rather than not_a_number.
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

export function parseSampleValue(raw: string, policy: ScalingPolicyConfig): SampleValueResult {
  if (raw.length > SAMPLE_VALUE_MAX_LENGTH) {
    return fail('too_large', `value of metric ${policy.metric} is ${raw.length} characters long; at most ${SAMPLE_VALUE_MAX_LENGTH} are read`);
  }
  if (policy.valuePath === null) return parseNumberText(raw);

  const depth = jsonNestingDepth(raw, SAMPLE_VALUE_MAX_DEPTH);
  if (depth > SAMPLE_VALUE_MAX_DEPTH) {
    return fail('too_deep', `JSON value of metric ${policy.metric} nests arrays or objects more than ${SAMPLE_VALUE_MAX_DEPTH} levels deep`);
  }
  let document: unknown;
  try {
    document = JSON.parse(raw);
  } catch (err) {
    // JSON.parse quotes the text it choked on: escaped and cut like any other piece of the value.
    return fail('bad_json', `value of metric ${policy.metric} is not valid JSON: ${quoteForMessage((err as Error).message, { quote: false, max: 120 })}`);
  }
  const found = lookUp(document, policy.valuePath);
  if (!found.found) {
    return fail('missing_key', `JSON value of metric ${policy.metric} has no key "${policy.valuePath}" (flat or nested)`);
  }
  const value = found.value;
  if (typeof value === 'number') {
    // JSON.parse turns 1e999 into Infinity.
    return Number.isFinite(value) ? { ok: true, value } : fail('not_finite', `"${policy.valuePath}" is ${value}`);
  }
  if (typeof value === 'string') return parseNumberText(value);
  // Bounded above (size and depth), so stringifying it for the message is safe; the message shows its start.
  return fail('not_a_number', `"${policy.valuePath}" in the value of metric ${policy.metric} is ${quoteForMessage(JSON.stringify(value), { quote: false })}, not a number`);
}

/** A trimmed decimal number string, as Python's float() reads it, restricted to finite values. */
export function parseNumberText(raw: string): SampleValueResult {
  if (raw.length > SAMPLE_VALUE_MAX_LENGTH) {
    return fail('too_large', `sample value is ${raw.length} characters long; at most ${SAMPLE_VALUE_MAX_LENGTH} are read`);
  }
  const text = raw.trim();
  if (NON_FINITE.test(text)) return fail('not_finite', `sample value ${quoteForMessage(text)} is not a finite number`);
  if (!DECIMAL_NUMBER.test(text)) return fail('not_a_number', `sample value ${quoteForMessage(text)} is not a number`);
  const value = Number(text);
  if (!Number.isFinite(value)) return fail('not_finite', `sample value ${quoteForMessage(text)} is out of range`);
  return { ok: true, value };
}

/**
 * How deep `[` and `{` nest in JSON text, outside strings; counting stops once past `limit`. One pass, no
 * recursion. For text that is not JSON the count is approximate, and JSON.parse rejects it anyway.
 */
export function jsonNestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c /* \ */) escaped = true;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return deepest;
}

function lookUp(document: unknown, path: string): { found: true; value: unknown } | { found: false } {
  if (!isObject(document)) return { found: false };
  if (Object.prototype.hasOwnProperty.call(document, path)) return { found: true, value: document[path] };
  let node: unknown = document;
  for (const part of path.split('.')) {
    if (!isObject(node) || !Object.prototype.hasOwnProperty.call(node, part)) return { found: false };
    node = node[part];
  }
  return { found: true, value: node };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(reason: SampleValueError, message: string): SampleValueResult {
  return { ok: false, reason, message };
}
