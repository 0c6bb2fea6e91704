/**
 * Strict ISO 8601 timestamps, as the original's producers wrote them in sample key names
 * (`2015-07-28T13:15:50.631Z`). `Date.parse` is too lenient ("2015" parses), so the grammar is explicit:
 *
 *   YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z | ±HH:MM | ±HHMM]     (no zone = UTC)
 */

const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * The instant of `text` in epoch milliseconds, or null when it is not a valid timestamp of the grammar above.
 * Sub-millisecond digits are kept as a fraction (`.6315` -> 631.5 ms) so that two samples a few microseconds
 * apart stay ordered.
 */
export function parseIsoTimestamp(text: string): number | null {
  const m = ISO_TIMESTAMP.exec(text);
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12) return null;
  if (day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;

  let offsetMinutes = 0;
  if (m[8] !== undefined && m[8] !== 'Z') {
    const offHours = Number(m[10]);
    const offMins = Number(m[11]);
    if (offHours > 23 || offMins > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offHours * 60 + offMins);
  }

  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const fractionMs = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
  return date.getTime() + fractionMs - offsetMinutes * 60_000;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
