/**
 * Go's url.ParseQuery as used by `req.URL.Query()`: pairs split on `&`, key and value unescaped with
 * QueryUnescape (`+` is a space); a pair that fails to unescape, or contains `;`, is dropped.
 */
export function parseGoQuery(rawQuery: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const key = queryUnescape(rawKey);
    const value = queryUnescape(rawValue);
    if (key === null || value === null) continue;
    const list = values.get(key) ?? [];
    list.push(value);
    values.set(key, list);
  }
  return values;
}

function queryUnescape(text: string): string | null {
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (ch === '+') {
      bytes.push(0x20);
    } else {
      bytes.push(...encoder.encode(ch));
    }
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}
