/**
 * Small pieces of Go's text behaviour that fleet's messages and parsing depend on: `unicode.IsSpace`,
 * `strings.TrimSpace`, and `%q` quoting of strings and runes (strconv.Quote / strconv.QuoteRune).
 */

/** Go's unicode.IsSpace (differs from JS: includes U+0085, excludes U+FEFF). */
export function goIsSpace(codePoint: number): boolean {
  switch (codePoint) {
    case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x20: case 0x85: case 0xa0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
      return true;
    default:
      return codePoint >= 0x2000 && codePoint <= 0x200a;
  }
}

/** Go's strings.TrimSpace. */
export function goTrimSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && goIsSpace(text.charCodeAt(start))) start++;
  while (end > start && goIsSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** Go's strings.Fields: split around runs of unicode.IsSpace. */
export function goFields(text: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (const ch of text) {
    if (goIsSpace(ch.codePointAt(0)!)) {
      if (current !== '') fields.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current !== '') fields.push(current);
  return fields;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function escapeCodePoint(ch: string, quote: string): string {
  const cp = ch.codePointAt(0)!;
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (PRINTABLE.test(ch)) return ch;
  switch (ch) {
    case '\x07': return '\\a';
    case '\b': return '\\b';
    case '\f': return '\\f';
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
    case '\v': return '\\v';
  }
  if (cp < 0x20 || cp === 0x7f) return `\\x${cp.toString(16).padStart(2, '0')}`;
  // Lone surrogates cannot come from Go (it would have produced U+FFFD); print that instead.
  if (cp >= 0xd800 && cp <= 0xdfff) return '\ufffd';
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

/** Go's `%q` of a string. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) out += escapeCodePoint(ch, '"');
  return `${out}"`;
}

/** Go's `%q` of a rune. */
export function goQuoteRune(ch: string): string {
  return `'${escapeCodePoint(ch, "'")}'`;
}

/** Length in bytes of the UTF-8 encoding (Go's len(string)); a lone surrogate counts as U+FFFD (3 bytes). */
export function utf8Length(text: string): number {
  let length = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    length += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return length;
}
