import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_RETRY_POLICY,
  FleetApiError,
  FleetNetworkError,
  backoffDelayMs,
  resolveRetryPolicy,
  withRetry,
} from '@dynamite/fleet-client';

const policy = { attempts: 10, baseDelayMs: 100, maxDelayMs: 2_000, maxTotalMs: 60_000 };

test('defaults suit an autoscaler: 5 attempts, 100 ms base, 2 s cap, 15 s in all', () => {
  assert.deepEqual({ ...DEFAULT_RETRY_POLICY }, { attempts: 5, baseDelayMs: 100, maxDelayMs: 2_000, maxTotalMs: 15_000 });
  assert.deepEqual(resolveRetryPolicy({ attempts: 2 }), { ...DEFAULT_RETRY_POLICY, attempts: 2 });
});

test('the backoff ceiling doubles per retry and is capped at maxDelayMs (full jitter below it)', () => {
  const ceiling = (retry: number) => backoffDelayMs(policy, retry, () => 0.999999);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(ceiling), [99, 199, 399, 799, 1599, 1999, 1999]);
  assert.equal(backoffDelayMs(policy, 3, () => 0), 0);
  assert.equal(backoffDelayMs(policy, 3, () => 0.5), 200);
});

function apiError(status: number): FleetApiError {
  return new FleetApiError({ status, fleetMessage: `status ${status}`, method: 'GET', path: '/fleet/v1/units' });
}

test('retries retryable failures until one succeeds', async () => {
  let calls = 0;
  const result = await withRetry({ ...policy, baseDelayMs: 1 }, async () => {
    calls++;
    if (calls === 1) throw apiError(503);
    if (calls === 2) throw new FleetNetworkError({ kind: 'reset', method: 'GET', path: '/x', detail: 'dropped' });
    return 'ok';
  });
  assert.equal(result, 'ok');
  assert.equal(calls, 3);
});

test('a 4xx is thrown at once; the thrown error carries the attempt count', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry({ ...policy, baseDelayMs: 1 }, async () => { calls++; throw apiError(409); }),
    (err: unknown) => err instanceof FleetApiError && err.status === 409 && err.attempts === 1,
  );
  assert.equal(calls, 1);
});

test('gives up after the attempt budget with the last error', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry({ ...policy, attempts: 3, baseDelayMs: 1 }, async () => { calls++; throw apiError(500); }),
    (err: unknown) => err instanceof FleetApiError && err.status === 500 && err.attempts === 3,
  );
  assert.equal(calls, 3);
});

test('gives up when the next pause would pass maxTotalMs, however many attempts remain', async () => {
  let calls = 0;
  // Every pause would be 1000 ms (random = 1 - tiny) but the total budget is 50 ms: no retry fits.
  await assert.rejects(
    withRetry({ attempts: 100, baseDelayMs: 1_000, maxDelayMs: 1_000, maxTotalMs: 50 }, async () => { calls++; throw apiError(503); }, { random: () => 0.99 }),
    (err: unknown) => err instanceof FleetApiError && err.attempts === 1,
  );
  assert.equal(calls, 1);
});

test('each attempt is told how much of the total budget remains', async () => {
  const budgets: number[] = [];
  await assert.rejects(withRetry({ attempts: 3, baseDelayMs: 0, maxDelayMs: 0, maxTotalMs: 10_000 }, async (remainingMs) => {
    budgets.push(remainingMs);
    throw apiError(502);
  }));
  assert.equal(budgets.length, 3);
  assert.ok(budgets.every((b) => b > 0 && b <= 10_000));
  assert.ok(budgets[2] <= budgets[0]);
});
