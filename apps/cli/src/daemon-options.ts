import { Option, type Command } from 'commander';
import type { EtcdConnectionOptions } from '@dynamite/store';
import { RedisUrlError, checkRedisUrl } from '@dynamite/queues';
import { UsageError } from './errors';
import type { CommonOptions } from './options';

/** etcd TLS and auth flags (all optional). */
export function addEtcdSecurityOptions(cmd: Command): Command {
  cmd.addOption(new Option('--etcd_ca <file>', 'CA certificate for etcd over TLS').env('DYNAMITE_ETCD_CA'));
  cmd.addOption(new Option('--etcd_cert <file>', 'client certificate for etcd over TLS').env('DYNAMITE_ETCD_CERT'));
  cmd.addOption(new Option('--etcd_key <file>', 'client key for etcd over TLS').env('DYNAMITE_ETCD_KEY'));
  cmd.addOption(new Option('--etcd_user <name>', 'etcd user (auth)').env('DYNAMITE_ETCD_USER'));
  cmd.addOption(new Option('--etcd_password <password>', 'etcd password (auth)').env('DYNAMITE_ETCD_PASSWORD'));
  return cmd;
}

export interface EtcdSecurityOptions {
  etcd_ca?: string;
  etcd_cert?: string;
  etcd_key?: string;
  etcd_user?: string;
  etcd_password?: string;
}

export function etcdConnection(opts: CommonOptions & EtcdSecurityOptions): EtcdConnectionOptions {
  return {
    endpoint: opts.etcd_endpoint,
    caFile: opts.etcd_ca,
    certFile: opts.etcd_cert,
    keyFile: opts.etcd_key,
    username: opts.etcd_user,
    password: opts.etcd_password,
  };
}

/** Whether -f/--fleet_endpoint was given (flag or env) rather than left at its default. */
export function fleetEndpointExplicit(cmd: Command): boolean {
  const source = cmd.getOptionValueSource('fleet_endpoint');
  return source === 'cli' || source === 'env';
}

/** Resolves when the process gets SIGTERM or SIGINT (graceful shutdown). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

/** Scheduler election flags: several schedulers may run, one leads (docs/operations.md). */
export function addLeadershipOptions(cmd: Command): Command {
  cmd.addOption(new Option('--scheduler_id <name>', "this scheduler's name in the leader election (default: host name and pid)").env('DYNAMITE_SCHEDULER_ID'));
  cmd.addOption(new Option('--leader_ttl <seconds>', 'lease TTL of the leader election: a dead leader is replaced within about this plus one second').env('DYNAMITE_LEADER_TTL').default('5'));
  return cmd;
}

export interface LeadershipFlags {
  scheduler_id?: string;
  leader_ttl: string;
}

export function leadershipOptions(flags: LeadershipFlags): { schedulerId?: string; leaderTtlSeconds: number } {
  const ttl = Number(flags.leader_ttl);
  // etcd leases are whole seconds; below 2 s a keepalive every third of it leaves no room for a slow moment.
  if (!Number.isInteger(ttl) || ttl < 2 || ttl > 60) throw new UsageError(`--leader_ttl: must be a whole number of seconds from 2 to 60 (got "${flags.leader_ttl}")`);
  if (flags.scheduler_id !== undefined && flags.scheduler_id.trim() === '') throw new UsageError('--scheduler_id: must not be empty');
  return { ...(flags.scheduler_id !== undefined ? { schedulerId: flags.scheduler_id.trim() } : {}), leaderTtlSeconds: ttl };
}

/** `--redis_url`, checked before anything connects: a bad one is a UsageError naming it. */
export function redisUrlOf(flags: Pick<CommonOptions, 'redis_url'>): string {
  try {
    checkRedisUrl(flags.redis_url);
  } catch (err) {
    if (err instanceof RedisUrlError) throw new UsageError(err.message);
    throw err;
  }
  return flags.redis_url;
}
