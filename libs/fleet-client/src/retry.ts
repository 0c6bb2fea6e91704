import { setTimeout as sleep } from 'node:timers/promises';
import { FleetArgumentError, isRetryableFleetError } from './errors';

/** Capped exponential backoff with full jitter, bounded in attempts and in total time. */
export interface RetryPolicy {
  /** Attempts in all, including the first; 1 disables retries. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** No retry starts once this much time has passed since the first attempt; request timeouts are clipped to it. */
  maxTotalMs: number;
}

/** Sized for an autoscaler: rides out a fleetd restart or an etcd hiccup, but gives up well before a job times out. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  attempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  maxTotalMs: 15_000,
});

export function resolveRetryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...overrides };
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new FleetArgumentError(`invalid fleet retry policy: ${what} (got ${JSON.stringify(overrides)})`);
  };
  check(Number.isInteger(policy.attempts) && policy.attempts >= 1, 'attempts must be an integer >= 1');
  check(Number.isFinite(policy.baseDelayMs) && policy.baseDelayMs >= 0, 'baseDelayMs must be >= 0');
  check(Number.isFinite(policy.maxDelayMs) && policy.maxDelayMs >= 0, 'maxDelayMs must be >= 0');
  check(Number.isFinite(policy.maxTotalMs) && policy.maxTotalMs > 0, 'maxTotalMs must be > 0');
  return policy;
}

/**
 * The pause before retry number `retry` (1 = after the first failure): uniformly random in
 * [0, min(maxDelayMs, baseDelayMs * 2^(retry-1))). Full jitter spreads clients that failed together.
 */
export function backoffDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

export interface RetryHooks {
  /** Decides whether a failure may be retried; defaults to the error's own `retryable`. */
  isRetryable?: (err: unknown) => boolean;
  /** Called before each pause, e.g. to log. */
  onRetry?: (err: unknown, retry: number, delayMs: number) => void;
  random?: () => number;
}

/** The least time left in the budget for which another attempt is started. */
const MIN_ATTEMPT_MS = 50;

/**
 * Runs `attempt(remainingMs)` until it succeeds, fails for good, or the policy's budget is spent. The error
 * thrown is the last one, with `attempts` set when it has such a field.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: (remainingMs: number) => Promise<T>,
  hooks: RetryHooks = {},
): Promise<T> {
  const isRetryable = hooks.isRetryable ?? isRetryableFleetError;
  const started = Date.now();
  for (let n = 1; ; n++) {
    const remainingMs = policy.maxTotalMs - (Date.now() - started);
    try {
      return await attempt(Math.max(1, remainingMs));
    } catch (err) {
      if (err !== null && typeof err === 'object' && 'attempts' in err) (err as { attempts: number }).attempts = n;
      if (n >= policy.attempts || !isRetryable(err)) throw err;
      const delayMs = backoffDelayMs(policy, n, hooks.random);
      if (Date.now() - started + delayMs + MIN_ATTEMPT_MS > policy.maxTotalMs) throw err;
      hooks.onRetry?.(err, n, delayMs);
      await sleep(delayMs);
      // A sleep that overran (a busy machine) may leave too little of the budget for a request to answer: the last
      // real error says more than a timeout of a few milliseconds would.
      if (Date.now() - started + MIN_ATTEMPT_MS > policy.maxTotalMs) throw err;
    }
  }
}
