import { Option, type Command } from 'commander';
import type { EtcdConnectionOptions } from '@dynamite/store';
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
