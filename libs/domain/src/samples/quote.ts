// Internal: untrusted text (sample keys and values) as it appears in a message: escaped, so it stays on one
// line, and shortened, so a huge key or value cannot flood a log.

const SHOWN = 60;

/** `"abc"`; longer text is cut to its first characters and `...`; control characters are escaped. */
export function quoteForMessage(text: string, opts: { quote?: boolean; max?: number } = {}): string {
  const max = opts.max ?? SHOWN;
  const cut = text.length > max ? `${text.slice(0, max - 3)}...` : text;
  if (opts.quote === false) return cut.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
  return JSON.stringify(cut);
}
