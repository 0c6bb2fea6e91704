/** Go's URL path unescaping (url.PathUnescape): null for a malformed escape, `+` stays `+`. */
export function goPathUnescape(raw: string): string | null {
  if (!raw.includes('%')) return raw;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...encoder.encode(raw[i]));
    }
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/** net/http's cleanPath: path.Clean, keeping a trailing slash. Go's ServeMux redirects (301) when it differs. */
export function goCleanPath(p: string): string {
  if (p === '') return '/';
  if (p[0] !== '/') p = `/${p}`;
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') { out.pop(); continue; }
    out.push(part);
  }
  let np = `/${out.join('/')}`;
  if (p.endsWith('/') && np !== '/') np += '/';
  return np;
}
