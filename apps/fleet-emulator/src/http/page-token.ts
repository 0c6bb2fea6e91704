/**
 * fleet's page tokens (spec §4): 4 bytes, uint16 LE limit then uint16 LE page, in padded base64url. The
 * server is stateless: page p is the slice [(p-1)*L, p*L) of the current sorted list, computed in uint16
 * like fleet does.
 */

export interface PageToken {
  limit: number;
  page: number;
}

export function encodePageToken(token: PageToken): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt16LE(token.limit & 0xffff, 0);
  bytes.writeUInt16LE(token.page & 0xffff, 2);
  return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

export class PageTokenError extends Error {}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Map([...ALPHABET].map((c, i) => [c.charCodeAt(0), i]));

/** Go's base64.URLEncoding.DecodeString, with its `illegal base64 data at input byte N` errors. */
export function goBase64UrlDecode(text: string): Uint8Array {
  const src = Buffer.from(text, 'utf8');
  const out: number[] = [];
  let si = 0;
  const corrupt = (at: number): never => {
    throw new PageTokenError(`illegal base64 data at input byte ${at}`);
  };
  while (si < src.length) {
    const quantum = [0, 0, 0, 0];
    let dlen = 4;
    let j = 0;
    let trailingError: number | null = null;
    for (; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return Uint8Array.from(out);
        corrupt(si - j); // padding is required
      }
      const c = src[si++];
      const v = DECODE.get(c);
      if (v !== undefined) { quantum[j] = v; continue; }
      if (c === 0x0a || c === 0x0d) { j--; continue; }
      if (c !== 0x3d) corrupt(si - 1);
      // Padding: only valid after 2 or 3 characters.
      if (j === 0 || j === 1) corrupt(si - 1);
      if (j === 2) {
        while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
        if (si === src.length) corrupt(src.length);
        if (src[si] !== 0x3d) corrupt(si - 1);
        si++;
      }
      while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
      if (si < src.length) trailingError = si;
      dlen = j;
      break;
    }
    const val = (quantum[0] << 18) | (quantum[1] << 12) | (quantum[2] << 6) | quantum[3];
    const bytes = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    out.push(...bytes.slice(0, dlen - 1));
    if (trailingError !== null) corrupt(trailingError);
  }
  return Uint8Array.from(out);
}

/** findNextPageToken: the token of the request, or page 1; throws PageTokenError with fleet's message. */
export function pageTokenFromQuery(query: Map<string, string[]>, tokenLimit: number): PageToken {
  const values = query.get('nextPageToken') ?? [];
  if (values.length > 1) throw new PageTokenError('too many values for page token');
  if (values.length === 0) return { limit: tokenLimit, page: 1 };
  const bytes = goBase64UrlDecode(values[0]);
  // binary.Read of the whole 4-byte struct: nothing is EOF, a partial read is unexpected EOF.
  if (bytes.length === 0) throw new PageTokenError('EOF');
  if (bytes.length < 4) throw new PageTokenError('unexpected EOF');
  const limit = bytes[0] | (bytes[1] << 8);
  const page = bytes[2] | (bytes[3] << 8);
  if (limit !== tokenLimit) throw new PageTokenError(`token limit must be ${tokenLimit}`);
  if (page === 0) throw new PageTokenError('token page must be greater than zero');
  return { limit, page };
}

/** The items of one page and the token of the next, exactly as fleet computes them (uint16 arithmetic). */
export function pageOf<T>(all: T[], token: PageToken): { items: T[]; next: string | null } {
  const start = ((token.page - 1) * token.limit) & 0xffff;
  let stop = (token.page * token.limit) & 0xffff;
  if (start >= all.length) return { items: [], next: null };
  let next: string | null = null;
  if (stop > all.length) stop = all.length;
  else next = encodePageToken({ limit: token.limit, page: (token.page + 1) & 0xffff });
  return { items: start < stop ? all.slice(start, stop) : [], next };
}
