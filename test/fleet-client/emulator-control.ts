/** Starting the fleet emulator for client tests and driving its test-only control endpoints over HTTP. */
import { startFleetEmulator } from '@dynamite/fleet-emulator';
import { FleetClient, type FleetClientLogger, type RetryPolicy } from '@dynamite/fleet-client';

export interface Faults {
  latencyMs?: number;
  errorRate?: number;
  dropRate?: number;
  path?: string;
  methods?: string[];
  /** Makes the dice repeatable. */
  seed?: number;
}

export type Emulator = Awaited<ReturnType<typeof startFleetEmulator>>;

export async function startEmulator(options: { tokenLimit?: number } = {}): Promise<Emulator> {
  return startFleetEmulator({ port: 0, ...options });
}

async function control(emulator: Emulator, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${emulator.url.replace(/\/$/, '')}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  const text = await response.text();
  return text === '' ? undefined : JSON.parse(text);
}

export const injectFaults = (emulator: Emulator, faults: Faults) => control(emulator, 'POST', '/emulator/faults', faults);
export const clearFaults = (emulator: Emulator) => control(emulator, 'DELETE', '/emulator/faults');
export const setNotReady = (emulator: Emulator, notReady: boolean) => control(emulator, notReady ? 'POST' : 'DELETE', '/emulator/not-ready');
export const emulatorStats = (emulator: Emulator) => control(emulator, 'GET', '/emulator/stats');
export const resetStats = (emulator: Emulator) => control(emulator, 'DELETE', '/emulator/stats');

/** Resolves once the emulator has answered `count` requests with `status` since its stats were last reset. */
export async function waitForAnswers(emulator: Emulator, status: number, count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = (await emulatorStats(emulator)) as { statuses: Record<string, number> };
    if ((stats.statuses[String(status)] ?? 0) >= count) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} answers with status ${status}; stats: ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A client with quick retries, so failure tests stay fast. */
export function clientFor(
  emulator: Emulator,
  options: { retry?: Partial<RetryPolicy>; timeoutMs?: number; logger?: FleetClientLogger } = {},
): FleetClient {
  return new FleetClient({
    endpoint: emulator.url,
    timeoutMs: options.timeoutMs ?? 5_000,
    retry: { baseDelayMs: 10, maxDelayMs: 50, ...options.retry },
    logger: options.logger,
  });
}

/** A harmless long-running service. */
export function sleeper(description: string, extra: Array<{ section: string; name: string; value: string }> = []) {
  return [
    { section: 'Unit', name: 'Description', value: description },
    { section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' },
    ...extra,
  ];
}
