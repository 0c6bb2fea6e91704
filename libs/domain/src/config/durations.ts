import type { TimeUnit } from './types';
import { UNIT_MS } from './scalars';
import { DURATION_MAX_MS } from './limits';

/**
 * A duration given as an amount and a unit (`period: 30`, `period_unit: second`), in whole milliseconds, or
 * why it cannot be used. The amount's sign and finiteness are checked by the schema; this checks the range
 * after conversion: at least `minMs` (a positive amount that rounds to 0 ms would be no time at all), at most
 * DURATION_MAX_MS. `zeroAllowed` lets exactly 0 through (a cooldown of 0 is no cooldown).
 */
export function durationMs(
  amount: number,
  unit: TimeUnit,
  rule: { minMs: number; zeroAllowed?: boolean },
): { ms: number } | { error: string } {
  const ms = Math.round(amount * UNIT_MS[unit]);
  if (amount === 0 && rule.zeroAllowed) return { ms: 0 };
  if (ms > DURATION_MAX_MS) {
    return { error: `must be at most 10 years, which is ${DURATION_MAX_MS / UNIT_MS[unit]} ${unit} (got ${amount})` };
  }
  if (ms < rule.minMs) {
    const least = rule.minMs >= 1000 ? `${rule.minMs / 1000} second` : `${rule.minMs} millisecond`;
    return { error: `must be at least ${least}${rule.zeroAllowed ? ', or 0' : ''} (got ${amount} ${unit}, which is ${ms} ms)` };
  }
  return { ms };
}
