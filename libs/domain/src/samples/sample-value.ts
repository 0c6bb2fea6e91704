import type { ScalingPolicyConfig } from '../config/types';

/**
 * Sample values. A plain number when the policy's `metric` has no `.`; otherwise JSON in which the rest of the
 * metric name is looked up as one flat key first (`{"time_backend_response.p95": 12}`, as the original did),
 * then as a nested path (`{"time_backend_response": {"p95": 12}}`).
 */

export type SampleValueError = 'not_a_number' | 'not_finite' | 'bad_json' | 'missing_key';

export type SampleValueResult =
  | { ok: true; value: number }
  | { ok: false; reason: SampleValueError; message: string };

// Python's float() grammar without its inf/nan/underscore extras: "29", "30.5", "-1e3", ".5", "5.".
const DECIMAL_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
// Spellings of non-finite numbers, reported as not_finite rather than not_a_number.
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

export function parseSampleValue(raw: string, policy: ScalingPolicyConfig): SampleValueResult {
  if (policy.valuePath === null) return parseNumberText(raw);

  let document: unknown;
  try {
    document = JSON.parse(raw);
  } catch (err) {
    return fail('bad_json', `value of metric ${policy.metric} is not valid JSON: ${(err as Error).message}`);
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
  return fail('not_a_number', `"${policy.valuePath}" in the value of metric ${policy.metric} is ${JSON.stringify(value)}, not a number`);
}

/** A trimmed decimal number string, as Python's float() reads it, restricted to finite values. */
export function parseNumberText(raw: string): SampleValueResult {
  const text = raw.trim();
  if (NON_FINITE.test(text)) return fail('not_finite', `sample value "${text}" is not a finite number`);
  if (!DECIMAL_NUMBER.test(text)) return fail('not_a_number', `sample value "${truncate(text)}" is not a number`);
  const value = Number(text);
  if (!Number.isFinite(value)) return fail('not_finite', `sample value "${truncate(text)}" is out of range`);
  return { ok: true, value };
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

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function fail(reason: SampleValueError, message: string): SampleValueResult {
  return { ok: false, reason, message };
}
