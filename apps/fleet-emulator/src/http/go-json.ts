/**
 * JSON the way Go's encoding/json reads and writes it, so that request errors and response bytes match fleet:
 * - decoding reads only the first JSON value of the body, with Go's scanner messages
 *   (`EOF`, `unexpected EOF`, `invalid character 'x' looking for beginning of value`, ...);
 * - unmarshalling into a described Go type matches keys case-insensitively, ignores unknown keys, treats
 *   `null` as "leave unchanged", and reports the first type mismatch as Go does
 *   (`json: cannot unmarshal number into Go struct field Unit.desiredState of type string`);
 * - encoding escapes `<`, `>`, `&`, U+2028 and U+2029 like Go's HTML-safe encoder.
 */

export type JsonValue =
  | { kind: 'null' }
  | { kind: 'bool'; value: boolean }
  | { kind: 'number'; text: string }
  | { kind: 'string'; value: string }
  | { kind: 'array'; items: JsonValue[] }
  | { kind: 'object'; entries: Array<[string, JsonValue]> };

export class GoJsonError extends Error {}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Go's quoteChar for scanner errors. */
function quoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return '\'"\'';
  const ch = String.fromCharCode(c);
  switch (ch) {
    case '\x07': return "'\\a'";
    case '\b': return "'\\b'";
    case '\f': return "'\\f'";
    case '\n': return "'\\n'";
    case '\r': return "'\\r'";
    case '\t': return "'\\t'";
    case '\v': return "'\\v'";
    case '\\': return "'\\\\'";
  }
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  if (c >= 0x80 && c <= 0xa0) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  if (c === 0xad) return "'\\u00ad'";
  return `'${ch}'`;
}

class EndOfInput extends Error {}

/**
 * Reads the first JSON value of `body` like json.Decoder.Decode: syntax errors are reported when met, a body
 * that ends inside the value gives `unexpected EOF` (or `EOF` when it held only whitespace).
 */
export function decodeFirstValue(body: Uint8Array): JsonValue {
  let pos = 0;
  const fail = (context: string): never => {
    throw new GoJsonError(`invalid character ${quoteChar(body[pos])} ${context}`);
  };
  const peek = (): number => {
    if (pos >= body.length) throw new EndOfInput();
    return body[pos];
  };
  const skipSpace = (): void => {
    while (pos < body.length && WHITESPACE.has(body[pos])) pos++;
  };

  const value = (): JsonValue => {
    skipSpace();
    const c = peek();
    switch (c) {
      case 0x7b: return object();
      case 0x5b: return array();
      case 0x22: return { kind: 'string', value: string() };
      case 0x74: literal('true'); return { kind: 'bool', value: true };
      case 0x66: literal('false'); return { kind: 'bool', value: false };
      case 0x6e: literal('null'); return { kind: 'null' };
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return { kind: 'number', text: number() };
    return fail('looking for beginning of value');
  };

  const literal = (word: string): void => {
    pos++;
    for (let i = 1; i < word.length; i++) {
      if (peek() !== word.charCodeAt(i)) fail(`in literal ${word} (expecting ${quoteChar(word.charCodeAt(i))})`);
      pos++;
    }
  };

  const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
  // A number only ends at the next byte; at the end of the body Go feeds a space, which ends it cleanly.
  const more = (): number | null => (pos < body.length ? body[pos] : null);
  const number = (): string => {
    const start = pos;
    if (body[pos] === 0x2d) {
      pos++;
      const c = peek();
      if (!isDigit(c)) fail('in numeric literal');
    }
    if (body[pos] === 0x30) pos++;
    else while (more() !== null && isDigit(more()!)) pos++;
    if (more() === 0x2e) {
      pos++;
      if (!isDigit(peek())) fail('after decimal point in numeric literal');
      while (more() !== null && isDigit(more()!)) pos++;
    }
    if (more() === 0x65 || more() === 0x45) {
      pos++;
      if (peek() === 0x2b || peek() === 0x2d) pos++;
      if (!isDigit(peek())) fail('in exponent of numeric literal');
      while (more() !== null && isDigit(more()!)) pos++;
    }
    return new TextDecoder().decode(body.subarray(start, pos));
  };

  const string = (): string => {
    pos++; // opening quote
    const bytes: number[] = [];
    let out = '';
    const flush = () => {
      if (bytes.length) { out += new TextDecoder().decode(Uint8Array.from(bytes)); bytes.length = 0; }
    };
    for (;;) {
      const c = peek();
      if (c === 0x22) { pos++; flush(); return out; }
      if (c < 0x20) fail('in string literal');
      if (c !== 0x5c) { bytes.push(c); pos++; continue; }
      pos++;
      const e = peek();
      const simple: Record<number, string> = { 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t', 0x5c: '\\', 0x2f: '/', 0x22: '"' };
      if (simple[e] !== undefined) { flush(); out += simple[e]; pos++; continue; }
      if (e !== 0x75) fail('in string escape code');
      pos++;
      const unit = hex4();
      flush();
      if (unit >= 0xd800 && unit < 0xdc00 && body[pos] === 0x5c && body[pos + 1] === 0x75) {
        // A high surrogate followed by an escaped low surrogate is one character; Go turns any other
        // surrogate into U+FFFD.
        const save = pos;
        pos += 2;
        const low = hex4();
        if (low >= 0xdc00 && low < 0xe000) { out += String.fromCharCode(unit, low); continue; }
        pos = save;
      }
      out += unit >= 0xd800 && unit < 0xe000 ? '\ufffd' : String.fromCharCode(unit);
    }
  };

  const hex4 = (): number => {
    let hex = '';
    for (let i = 0; i < 4; i++) {
      const h = peek();
      if (!/[0-9a-fA-F]/.test(String.fromCharCode(h))) fail('in \\u hexadecimal character escape');
      hex += String.fromCharCode(h);
      pos++;
    }
    return parseInt(hex, 16);
  };

  const object = (): JsonValue => {
    pos++;
    const entries: Array<[string, JsonValue]> = [];
    skipSpace();
    if (peek() === 0x7d) { pos++; return { kind: 'object', entries }; }
    for (;;) {
      skipSpace();
      if (peek() !== 0x22) fail('looking for beginning of object key string');
      const key = string();
      skipSpace();
      if (peek() !== 0x3a) fail('after object key');
      pos++;
      const v = value();
      entries.push([key, v]);
      skipSpace();
      const c = peek();
      if (c === 0x2c) { pos++; continue; }
      if (c === 0x7d) { pos++; return { kind: 'object', entries }; }
      fail('after object key:value pair');
    }
  };

  const array = (): JsonValue => {
    pos++;
    const items: JsonValue[] = [];
    skipSpace();
    if (peek() === 0x5d) { pos++; return { kind: 'array', items }; }
    for (;;) {
      items.push(value());
      skipSpace();
      const c = peek();
      if (c === 0x2c) { pos++; continue; }
      if (c === 0x5d) { pos++; return { kind: 'array', items }; }
      fail('after array element');
    }
  };

  try {
    return value();
  } catch (err) {
    if (err instanceof EndOfInput) {
      const onlySpace = body.every((b) => WHITESPACE.has(b));
      throw new GoJsonError(onlySpace ? 'EOF' : 'unexpected EOF');
    }
    throw err;
  }
}

/** A Go type the body is unmarshalled into, with the names Go prints in errors. */
export type GoType =
  | { kind: 'string' }
  | { kind: 'slice'; goName: string; elem: GoType }
  | { kind: 'struct'; goName: string; structName: string; fields: Array<{ json: string; type: GoType }> };

export const GO_STRING: GoType = { kind: 'string' };

function valueKind(v: JsonValue): string {
  return v.kind === 'bool' ? 'bool' : v.kind;
}

function typeName(t: GoType): string {
  return t.kind === 'string' ? 'string' : t.goName;
}

interface ErrorContext {
  struct: string | null;
  fields: string[];
}

/**
 * json.Unmarshal of a decoded value into a Go type. Returns a plain JS value (strings, arrays, records
 * keyed by the Go field's JSON name; `undefined` where Go would keep the zero value) and the first type
 * error, formatted as Go formats it.
 */
export function unmarshal(v: JsonValue, type: GoType): { value: unknown; error: string | null } {
  let firstError: string | null = null;
  const typeError = (v: JsonValue, t: GoType, ctx: ErrorContext): void => {
    if (firstError !== null) return;
    const where = ctx.struct !== null || ctx.fields.length > 0
      ? `Go struct field ${ctx.struct ?? ''}.${ctx.fields.join('.')}`
      : 'Go value';
    firstError = `json: cannot unmarshal ${valueKind(v)} into ${where} of type ${typeName(t)}`;
  };

  const walk = (v: JsonValue, t: GoType, ctx: ErrorContext): unknown => {
    if (v.kind === 'null') return undefined;
    switch (t.kind) {
      case 'string':
        if (v.kind === 'string') return v.value;
        typeError(v, t, ctx);
        return undefined;
      case 'slice':
        if (v.kind !== 'array') { typeError(v, t, ctx); return undefined; }
        return v.items.map((item) => walk(item, t.elem, ctx));
      case 'struct': {
        if (v.kind !== 'object') { typeError(v, t, ctx); return undefined; }
        const out: Record<string, unknown> = {};
        for (const [key, fieldValue] of v.entries) {
          const field = t.fields.find((f) => f.json === key) ?? t.fields.find((f) => f.json.toLowerCase() === key.toLowerCase());
          if (!field) continue;
          const decoded = walk(fieldValue, field.type, { struct: t.structName, fields: [...ctx.fields, field.json] });
          if (decoded !== undefined) out[field.json] = decoded;
          else if (fieldValue.kind === 'null' && field.type.kind === 'slice') delete out[field.json];
        }
        return out;
      }
    }
  };

  const value = walk(v, type, { struct: null, fields: [] });
  return { value, error: firstError };
}

/** JSON.stringify with Go's HTML-safe escapes, so bodies are byte-identical to fleet's. */
export function goJsonStringify(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
