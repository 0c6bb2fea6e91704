/**
 * systemd time spans (`90`, `5s`, `1min 30s`, `500ms`, `infinity`): milliseconds, Infinity, or null when the
 * text is not a time span. A bare number is in seconds.
 */
const UNITS: Record<string, number> = {
  us: 0.001, usec: 0.001, 'µs': 0.001,
  ms: 1, msec: 1,
  s: 1000, sec: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

export function parseTimespanMs(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === 'infinity') return Infinity;
  if (trimmed === '') return null;
  const parts = trimmed.match(/\d+(?:\.\d+)?\s*[a-zµ]*/g);
  if (!parts || parts.join('').replace(/\s/g, '') !== trimmed.replace(/\s/g, '')) return null;
  let total = 0;
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)\s*([a-zµ]*)$/.exec(part.trim());
    if (!m) return null;
    const unit = m[2] === '' ? 1000 : UNITS[m[2]];
    if (unit === undefined) return null;
    total += Number(m[1]) * unit;
  }
  return total;
}
