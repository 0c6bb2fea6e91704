import crypto from 'node:crypto';
import dns from 'node:dns';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Cluster } from './cluster';
import { FaultInjector } from './faults';
import type { EmulatorControls } from './http/emulator-api';
import { FleetApi } from './http/fleet-api';
import { isLoopbackAddress } from './http/loopback';
import { createRequestHandler } from './http/request-handler';
import { loadState, saveState, type PersistedState } from './persistence/state-dir';
import { deriveMachineIds, type SimMachine } from './registry/machines';
import { registryUnit } from './registry/registry';
import { installSignalHooks } from './runner/process-groups';
import { RequestStats } from './stats';

export interface FleetEmulatorOptions {
  /** Interface to bind; 127.0.0.1 unless told otherwise. Anything but loopback needs allowRemote. */
  host?: string;
  /**
   * Serve on a host that is not loopback. Whoever can reach the emulator runs commands (the units'
   * ExecStart=) as the user running it, so this must be asked for explicitly.
   */
  allowRemote?: boolean;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Also listen on this unix socket (fleetd's default transport). */
  socketPath?: string;
  /** Simulated machines (default 1). */
  machines?: number;
  /** Persist units, desired states, dynamic metadata and machine ids here. */
  stateDir?: string;
  /** fleetd's token_limit: page size of the list endpoints (default 100). */
  tokenLimit?: number;
  /** Reconcile period, besides right after every change (default 200 ms; fleet: engine 2 s, agents 5 s). */
  reconcileIntervalMs?: number;
  /**
   * How late the simulated agents see the registry (default 1000 ms): currentState and /state follow a change
   * that much later, as fleet's agents lag behind its registry. 0 is fast mode: they follow within milliseconds.
   */
  agentLagMs?: number;
  /** Stop timeout for units without TimeoutStopSec= (default 5 s; systemd uses 90 s). */
  stopTimeoutMs?: number;
  /** Configured metadata of every simulated machine (fleetd `metadata=`). */
  metadata?: Record<string, string>;
  /** primaryIP of the simulated machines (default 127.0.0.1). */
  primaryIP?: string;
  /** Seed of the machine ids when there is no state dir (default: fixed, so ids are stable). */
  machineSeed?: string;
}

export interface FleetEmulator {
  /** The address really bound: `http://0.0.0.0:PORT` when serving every IPv4 interface. */
  url: string;
  port: number;
  /** True when only this host can reach the TCP port. */
  loopbackOnly: boolean;
  machineIds: string[];
  stop(): Promise<void>;
}

export class EmulatorOptionError extends Error {}

function checkOptions(o: FleetEmulatorOptions): void {
  const positiveInt = (v: number | undefined, name: string, max = Number.MAX_SAFE_INTEGER) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > max)) throw new EmulatorOptionError(`${name} must be an integer between 1 and ${max}, got ${v}`);
  };
  positiveInt(o.machines, 'machines', 1000);
  positiveInt(o.tokenLimit, 'tokenLimit', 65535);
  positiveInt(o.reconcileIntervalMs, 'reconcileIntervalMs');
  if (o.agentLagMs !== undefined && !(Number.isInteger(o.agentLagMs) && o.agentLagMs >= 0 && o.agentLagMs <= 3_600_000)) {
    throw new EmulatorOptionError(`agentLagMs must be an integer between 0 and 3600000, got ${o.agentLagMs}`);
  }
  if (o.stopTimeoutMs !== undefined && !(o.stopTimeoutMs >= 0)) throw new EmulatorOptionError(`stopTimeoutMs must be >= 0, got ${o.stopTimeoutMs}`);
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) throw new EmulatorOptionError(`port must be between 0 and 65535, got ${o.port}`);
  for (const key of Object.keys(o.metadata ?? {})) {
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new EmulatorOptionError(`metadata key "${key}" must match [A-Za-z0-9_.-]+`);
  }
}

/** Refuses a host that is not loopback (or a name resolving to anything else) unless allowRemote. */
async function checkListenHost(host: string, port: number, allowRemote: boolean): Promise<void> {
  if (allowRemote) return;
  let addresses: string[];
  try {
    addresses = net.isIP(host) ? [host] : (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    throw new EmulatorOptionError(`cannot listen on ${host}: ${(err as Error).message}`);
  }
  const remote = addresses.find((address) => !isLoopbackAddress(address));
  if (remote === undefined) return;
  const where = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  throw new EmulatorOptionError(
    `refusing to listen on ${where}: ${remote === host ? 'not a loopback address' : `${host} is ${remote}, not loopback`}, and whoever can reach the emulator runs commands through unit files (ExecStart=); allow remote clients explicitly (--allow_remote, allowRemote) to serve it anyway`,
  );
}

function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replace(/-/g, '');
  } catch {
    return crypto.randomBytes(16).toString('hex');
  }
}

/** Starts the emulator: the fleet API on HTTP, a simulated cluster that really runs the units. */
export async function startFleetEmulator(opts: FleetEmulatorOptions = {}): Promise<FleetEmulator> {
  checkOptions(opts);
  const host = opts.host ?? '127.0.0.1';
  await checkListenHost(host, opts.port ?? 0, opts.allowRemote === true);
  const machineCount = opts.machines ?? 1;
  const tokenLimit = opts.tokenLimit ?? 100;
  const stateDir = opts.stateDir ? path.resolve(opts.stateDir) : undefined;
  const persisted: PersistedState | null = stateDir ? loadState(stateDir) : null;
  const seed = stateDir ?? opts.machineSeed ?? 'default';
  const ids = deriveMachineIds(seed, machineCount, persisted?.machines ?? []);
  const machines: SimMachine[] = ids.map((id) => ({ id, primaryIP: opts.primaryIP ?? '127.0.0.1', configuredMetadata: { ...(opts.metadata ?? {}) } }));

  const cluster = new Cluster({
    machines,
    reconcileIntervalMs: opts.reconcileIntervalMs ?? 200,
    agentLagMs: opts.agentLagMs ?? 1000,
    stopTimeoutMs: opts.stopTimeoutMs ?? 5000,
    bootId: bootId(),
  });
  if (persisted) {
    for (const unit of persisted.units) cluster.registry.units.set(unit.name, registryUnit(unit.name, unit.options, unit.desiredState));
    for (const [machineId, values] of Object.entries(persisted.metadata)) {
      for (const [key, value] of Object.entries(values)) cluster.machines.setDynamic(machineId, key, value);
    }
  }

  // Persistence: every registry change is written (coalesced) to the state dir.
  let saveTimer: NodeJS.Timeout | null = null;
  const persist = () => {
    if (!stateDir) return;
    saveTimer = null;
    const state: PersistedState = {
      version: 1,
      machines: [...new Set([...(persisted?.machines ?? []), ...ids])],
      units: cluster.registry.sortedUnits().map((u) => ({ name: u.name, desiredState: u.desiredState, options: u.options })),
      metadata: Object.fromEntries([...cluster.machines.dynamic].map(([id, values]) => [id, Object.fromEntries(values)])),
    };
    saveState(stateDir, state);
  };
  if (stateDir) {
    persist();
    cluster.registry.on('change', () => {
      if (!saveTimer) saveTimer = setTimeout(persist, 20);
    });
  }

  const faults = new FaultInjector();
  const stats = new RequestStats();
  const controls: EmulatorControls = { notReady: false };
  const api = new FleetApi(cluster, tokenLimit);

  const onRequest = createRequestHandler({ cluster, api, faults, stats, controls });

  const servers: http.Server[] = [];
  const listen = (server: http.Server, bind: (s: http.Server, done: () => void) => void) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      bind(server, () => { server.removeListener('error', reject); resolve(); });
    });

  const tcp = http.createServer(onRequest);
  tcp.keepAliveTimeout = 30_000;
  servers.push(tcp);
  try {
    await listen(tcp, (s, done) => s.listen(opts.port ?? 0, host, done));
    if (opts.socketPath) {
      try { fs.unlinkSync(opts.socketPath); } catch { /* not there */ }
      const unix = http.createServer(onRequest);
      servers.push(unix);
      await listen(unix, (s, done) => s.listen(opts.socketPath!, done));
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw new EmulatorOptionError(`cannot listen: ${(err as Error).message}`);
  }

  const address = tcp.address() as net.AddressInfo;
  if (!opts.allowRemote && !isLoopbackAddress(address.address)) {
    // A name that resolved to loopback when checked and to something else when bound.
    for (const s of servers) s.close();
    throw new EmulatorOptionError(`refusing to serve on ${address.address}: ${host} resolved to a loopback address first`);
  }
  installSignalHooks();
  cluster.start();
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let stopping: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    loopbackOnly: isLoopbackAddress(address.address),
    machineIds: ids,
    stop: () => {
      stopping ??= (async () => {
        await Promise.all(servers.map((s) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); })));
        if (saveTimer) { clearTimeout(saveTimer); persist(); }
        await cluster.stop();
        if (opts.socketPath) { try { fs.unlinkSync(opts.socketPath); } catch { /* gone */ } }
      })();
      return stopping;
    },
  };
}
