// Internal: short human durations for rules and messages (`30s`, `2m`, `1m30s`, `1h`, `250ms`), and back.

export function formatDuration(ms: number): string {
  if (ms < 1000 || ms % 1000 !== 0) return `${ms}ms`;
  let seconds = ms / 1000;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours > 0 ? `${hours}h` : ''}${minutes > 0 ? `${minutes}m` : ''}${seconds > 0 ? `${seconds}s` : ''}`;
}

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration an operator types (`30m`, `2h`, `1h30m`, `90s`, `1d`), in milliseconds, or null when it is not one.
 * Whole amounts only, each with its unit (`ms`, `s`, `m`, `h`, `d`), largest first or not: they add up.
 */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (!/^(\d{1,9}(ms|s|m|h|d))+$/.test(trimmed)) return null;
  let ms = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(amount) * DURATION_UNIT_MS[unit!]!;
  return Number.isSafeInteger(ms) ? ms : null;
}
