import type { Command } from 'commander';
import { EmulatorOptionError, StateDirError, startFleetEmulator, type FleetEmulatorOptions } from '@dynamite/fleet-emulator';
import { parseTimespanMs } from '@dynamite/unit-files';
import { UsageError } from '../errors';

interface EmulatorFlags {
  listen: string;
  allow_remote?: boolean;
  socket?: string;
  machines: string;
  state_dir?: string;
  token_limit: string;
  metadata?: string;
  stop_timeout: string;
  reconcile_interval: string;
  agent_lag: string;
  primary_ip: string;
}

const HELP = `
WARNING: this EXECUTES THE COMMANDS OF THE UNIT FILES it receives (ExecStart=, ExecStartPre=, ...) as local
processes, as the user running it, and fleet's API has no authentication. It serves loopback addresses only
unless --allow_remote is given; do not expose it to untrusted networks.

It speaks fleet's HTTP API v1 (/fleet/v1 and /v1-alpha) like fleetd 1.0.0 and simulates a cluster of
--machines machines on this host. Like fleet's agents, the simulated ones act on a change only later
(--agent_lag), so a client polling right after a change still sees the old currentState; --agent_lag 0 is
the fast mode for tests. Control API (loopback only): /emulator/faults, /emulator/not-ready,
/emulator/stats, /emulator/passes, /emulator/units/{name}/journal. See docs/fleet-emulator.md.`;

function integer(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw new UsageError(`--${flag} must be an integer between ${min} and ${max}, got "${text}"`);
  return value;
}

function duration(text: string, flag: string): number {
  const ms = parseTimespanMs(text);
  if (ms === null || ms === Infinity) throw new UsageError(`--${flag} must be a time span such as 5s, 500ms or 1min, got "${text}"`);
  return ms;
}

export function parseListen(text: string): { host: string; port: number } {
  const stripped = text.replace(/^https?:\/\//, '').replace(/\/$/, '');
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(stripped) ?? /^()()(\d+)$/.exec(stripped);
  if (!m) throw new UsageError(`--listen must be host:port (e.g. 127.0.0.1:49153), got "${text}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen port must be at most 65535, got ${port}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function parseMetadata(text: string | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (text === undefined || text.trim() === '') return metadata;
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? '' : pair.slice(0, eq).trim();
    const value = eq === -1 ? '' : pair.slice(eq + 1).trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(key) || value === '') throw new UsageError(`--metadata must be k=v pairs separated by commas, got "${pair}"`);
    metadata[key] = value;
  }
  return metadata;
}

export function emulatorOptions(flags: EmulatorFlags): FleetEmulatorOptions {
  const { host, port } = parseListen(flags.listen);
  return {
    host,
    port,
    allowRemote: flags.allow_remote === true,
    socketPath: flags.socket,
    machines: integer(flags.machines, 'machines', 1, 1000),
    stateDir: flags.state_dir,
    tokenLimit: integer(flags.token_limit, 'token_limit', 1, 65535),
    metadata: parseMetadata(flags.metadata),
    stopTimeoutMs: duration(flags.stop_timeout, 'stop_timeout'),
    reconcileIntervalMs: Math.max(1, duration(flags.reconcile_interval, 'reconcile_interval')),
    agentLagMs: Math.round(duration(flags.agent_lag, 'agent_lag')),
    primaryIP: flags.primary_ip,
  };
}

/** `dynamite fleet-emulator`: a local fleet API that really runs the units; stops cleanly on SIGTERM/SIGINT. */
export function register(program: Command): void {
  program
    .command('fleet-emulator')
    .description('run a local fleet API v1 emulator that EXECUTES unit files as local processes')
    .option('--listen <host:port>', 'address to serve the fleet API on (loopback unless --allow_remote)', '127.0.0.1:49153')
    .option('--allow_remote', 'allow a --listen address that is not loopback: whoever reaches it runs commands on this host')
    .option('--socket <path>', 'also serve on this unix socket (fleetd default: /var/run/fleet.sock)')
    .option('--machines <n>', 'number of simulated machines', '1')
    .option('--state_dir <dir>', 'persist units, desired states, metadata and machine ids here')
    .option('--token_limit <n>', 'page size of the list endpoints (fleetd token_limit)', '100')
    .option('--metadata <k=v,...>', 'metadata of every simulated machine (fleetd metadata=)')
    .option('--stop_timeout <span>', 'stop timeout of units without TimeoutStopSec=', '5s')
    .option('--reconcile_interval <span>', "period of the reconcile loop (fleet's engine, then the agents)", '200ms')
    .option('--agent_lag <span>', 'how late the agents see changes, so currentState trails desiredState as in fleet (0: fast mode)', '1s')
    .option('--primary_ip <ip>', 'primaryIP of the simulated machines', '127.0.0.1')
    .addHelpText('after', HELP)
    .action(async (flags: EmulatorFlags) => {
      const options = emulatorOptions(flags);
      let emulator;
      try {
        emulator = await startFleetEmulator(options);
      } catch (err) {
        if (err instanceof EmulatorOptionError || err instanceof StateDirError) throw new UsageError(err.message);
        throw err;
      }
      process.stdout.write(`fleet emulator listening on ${emulator.url}\n`);
      if (!emulator.loopbackOnly) {
        process.stderr.write(`fleet emulator: WARNING: ${emulator.url} is reachable from other hosts, and whoever reaches it runs commands here through unit files (ExecStart=)\n`);
      }
      process.stderr.write(`machines: ${emulator.machineIds.join(', ')}\n`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = (signal: NodeJS.Signals) => {
          if (stopping) {
            process.stderr.write(`fleet emulator: ${signal} again, exiting now\n`);
            process.exit(130);
          }
          stopping = true;
          process.stderr.write(`fleet emulator: ${signal}, stopping units\n`);
          void emulator.stop().then(() => {
            process.removeListener('SIGINT', onSignal);
            process.removeListener('SIGTERM', onSignal);
            resolve();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
    });
}
