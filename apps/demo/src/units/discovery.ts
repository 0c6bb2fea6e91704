import { randomUUID } from 'node:crypto';
import { Etcd3, type Lease } from 'etcd3';
import { exitWithParent, parsePort, readRuntime } from './runtime';

/**
 * The demo's discovery and metrics agent, attached to each web server instance
 * (`webserver_discovery@%i.service` runs `discovery.js <runtime.json> %i`). It does what the original Dynamite
 * expected of a service's sidekick:
 *   - registers `<application_base>/<type>/<uuid>/service_instance_name = webserver@%i.service` under a lease that
 *     it keeps alive (the key vanishes soon after the agent stops, and at once when it stops cleanly);
 *   - every `sampleEveryMs` writes `<metrics_base>/<type>/<uuid>/cpu_user/<ISO timestamp>` = the instance's busy
 *     percent over the last second, under short leases that are not kept alive, so old samples expire by themselves.
 */

const runtime = readRuntime(process.argv[2]);
const port = parsePort(process.argv[3]);
const instance = `${runtime.unitPrefix}@${port}.service`;
const uuid = randomUUID();
const etcd = new Etcd3({ hosts: runtime.etcdHosts, dialTimeout: 5000 });
const registrationKey = `${runtime.applicationBase}/${runtime.serviceType}/${uuid}/service_instance_name`;
const sampleDir = `${runtime.metricsBase}/${runtime.serviceType}/${uuid}/${runtime.metric}/`;

let registration: Lease | null = null;
let sampleLease: Lease | null = null;
let sampleLeaseSince = 0;
let stopping = false;
const history: { t: number; busyMs: number }[] = [];

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${instance} ${uuid}: ${message}\n`);
}

async function stats(): Promise<{ busyMs: number } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/_stats`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return null;
    return (await res.json()) as { busyMs: number };
  } catch {
    return null;
  }
}

async function register(): Promise<void> {
  const lease = etcd.lease(runtime.registrationTtlSec);
  lease.on('lost', () => {
    if (stopping) return;
    log('registration lease lost; registering again');
    registration = null;
    register().catch((err: unknown) => log(`register failed: ${String(err)}`));
  });
  await lease.put(registrationKey).value(instance);
  registration = lease;
  log(`registered ${registrationKey} = ${instance}`);
}

/** Busy percent over the last second, from the web server's cumulative busy time. */
function loadPercent(now: number, busyMs: number): number | null {
  history.push({ t: now, busyMs });
  while (history.length > 2 && history[1]!.t <= now - 1000) history.shift();
  const first = history[0]!;
  if (now - first.t < 200) return null;
  const pct = ((busyMs - first.busyMs) / (now - first.t)) * 100;
  return Math.round(Math.min(100, Math.max(0, pct)) * 10) / 10;
}

async function sample(): Promise<void> {
  const s = await stats();
  if (s === null) return; // silence, never a made-up value
  const now = performance.now();
  const value = loadPercent(now, s.busyMs);
  if (value === null) return;
  if (sampleLease === null || now - sampleLeaseSince > 5000) {
    sampleLease = etcd.lease(runtime.sampleTtlSec, { autoKeepAlive: false });
    sampleLeaseSince = now;
  }
  await sampleLease.put(`${sampleDir}${new Date().toISOString()}`).value(String(value));
}

async function main(): Promise<void> {
  // Register only once the web server answers: a registered instance is one that can take traffic.
  const deadline = Date.now() + 60_000;
  while ((await stats()) === null) {
    if (Date.now() > deadline) throw new Error(`web server on port ${port} did not answer within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await register();
  const tick = async (): Promise<void> => {
    if (stopping) return;
    try {
      await sample();
    } catch (err) {
      log(`sample failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    setTimeout(() => void tick(), runtime.sampleEveryMs);
  };
  await tick();
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Revoking the registration lease deletes the registration at once; the samples expire with their leases.
  await Promise.race([registration?.revoke().catch(() => undefined), new Promise((r) => setTimeout(r, 1500))]);
  etcd.close();
}

process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));
process.on('SIGINT', () => void stop().finally(() => process.exit(0)));
exitWithParent(runtime.parentPid, stop);
main().catch((err: unknown) => {
  log(`fatal: ${err instanceof Error ? err.message : String(err)}`);
  void stop().finally(() => process.exit(1));
});
