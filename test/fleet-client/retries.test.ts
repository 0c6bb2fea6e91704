/** Retries and timeouts against the emulator's fault injection, over real HTTP. */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetApiError, FleetClient, FleetNetworkError, type RetryPolicy } from '@dynamite/fleet-client';
import { clearFaults, clientFor, emulatorStats, injectFaults, sleeper, startEmulator, type Emulator } from './emulator-control';

let emulator: Emulator;
const clients: FleetClient[] = [];

before(async () => { emulator = await startEmulator(); });
afterEach(async () => { await clearFaults(emulator); });
after(async () => {
  for (const client of clients) client.close();
  await emulator.stop();
});

/** A client that counts its own retries through the logger hook. */
function countingClient(retry: Partial<RetryPolicy>, timeoutMs?: number) {
  const retries = { count: 0 };
  const client = clientFor(emulator, { retry, timeoutMs, logger: { warn: () => { retries.count++; } } });
  clients.push(client);
  return { client, retries };
}

async function injected500s(): Promise<number> {
  const stats = (await emulatorStats(emulator)) as { statuses: Record<string, number> };
  return stats.statuses['500'] ?? 0;
}

test('injected 500s are retried until the calls succeed', async () => {
  const { client, retries } = countingClient({ attempts: 20 });
  const before500s = await injected500s();
  await injectFaults(emulator, { errorRate: 0.5, path: '^/fleet/v1/machines$', seed: 7 });
  for (let i = 0; i < 10; i++) assert.ok((await client.listMachines()).length >= 1);
  assert.ok(retries.count > 0, 'some calls met a 500');
  assert.equal(await injected500s() - before500s, retries.count);
});

test('dropped connections are retried until the calls succeed', async () => {
  const { client, retries } = countingClient({ attempts: 20 });
  await injectFaults(emulator, { dropRate: 0.5, path: '^/fleet/v1/units', seed: 11 });
  for (let i = 0; i < 10; i++) assert.deepEqual(await client.listUnits(), []);
  assert.ok(retries.count > 0, 'some calls met a dropped connection');
});

test('PUT and DELETE are retried safely: the helpers converge through 500s and drops', async () => {
  const { client, retries } = countingClient({ attempts: 30, maxTotalMs: 30_000 });
  await injectFaults(emulator, { errorRate: 0.3, dropRate: 0.2, path: '^/fleet/v1/', methods: ['PUT', 'DELETE', 'GET'], seed: 3 });
  const names = ['chaos-a.service', 'chaos-b.service'];
  for (const name of names) {
    const { unit } = await client.ensureLaunched(name, sleeper(name), { waitMs: 20_000 });
    assert.equal(unit.currentState, 'launched');
  }
  for (const name of names) assert.equal((await client.ensureLaunched(name, sleeper(name), { waitMs: 20_000 })).action, 'already');
  for (const name of names) await client.ensureDestroyed(name, { waitMs: 20_000 });
  await clearFaults(emulator);
  assert.deepEqual(await client.listUnits(), []);
  assert.ok(retries.count > 0);
});

test('retries give up after the attempt budget with a FleetApiError carrying fleet\'s code and message', async () => {
  const { client, retries } = countingClient({ attempts: 3 });
  await injectFaults(emulator, { errorRate: 1, path: '^/fleet/v1/machines$' });
  await assert.rejects(client.listMachines(), (err: unknown) =>
    err instanceof FleetApiError && err.status === 500 && err.code === 500 && err.fleetMessage === '' && err.retryable && err.attempts === 3 &&
    err.message === 'GET /fleet/v1/machines: 500 (no message)');
  assert.equal(retries.count, 2);
});

test('retries give up when the total time budget is spent, however many attempts remain', async () => {
  const { client } = countingClient({ attempts: 1_000, baseDelayMs: 20, maxDelayMs: 40, maxTotalMs: 400 });
  await injectFaults(emulator, { errorRate: 1, path: '^/fleet/v1/units$' });
  await assert.rejects(client.listUnits(), (err: unknown) => err instanceof FleetApiError && err.status === 500 && err.attempts > 1 && err.attempts < 1_000);
});

test('a slow fleet gives timeouts: each request is bounded, and retries end in a FleetNetworkError', async () => {
  const { client, retries } = countingClient({ attempts: 2 }, 100);
  await injectFaults(emulator, { latencyMs: 1_000, path: '^/fleet/v1/units$' });
  await assert.rejects(client.listUnits(), (err: unknown) =>
    err instanceof FleetNetworkError && err.kind === 'timeout' && err.attempts === 2 && /^GET \/fleet\/v1\/units: no response within 100 ms/.test(err.message));
  assert.equal(retries.count, 1);
  await injectFaults(emulator, { latencyMs: 50, path: '^/fleet/v1/units$' });
  assert.deepEqual(await client.listUnits(), []);
});

test('no retry on 409 or 400, even with faults elsewhere', async () => {
  const { client, retries } = countingClient({ attempts: 5 });
  await assert.rejects(client.setDesiredState('absent.service', 'launched'), (err: unknown) => err instanceof FleetApiError && err.status === 409 && err.attempts === 1);
  await assert.rejects(client.putUnit('bad.unit', { options: sleeper('x') }), (err: unknown) =>
    err instanceof FleetApiError && err.status === 400 && err.fleetMessage === 'invalid unit type: "unit"' && err.attempts === 1);
  assert.equal(retries.count, 0);
});
