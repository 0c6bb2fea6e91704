import { Option, type Command } from 'commander';

/**
 * The flags shared by the subcommands. Names and short forms are the original Dynamite's
 * (`-c/--config_file`, `-s/--service_folder`, `-e/--etcd_endpoint`, `-f/--fleet_endpoint`); each also reads an
 * environment variable (DYNAMITE_CONFIG_FILE, ...). Defaults follow the original README.
 */
export const DEFAULTS = {
  configFile: '/etc/dynamite/config.yaml',
  serviceFolder: '/etc/dynamite/service-files',
  etcdEndpoint: '127.0.0.1:2379',
  fleetEndpoint: '127.0.0.1:49153',
  redisUrl: 'redis://127.0.0.1:6379',
  queuePrefix: 'dynamite',
} as const;

export interface CommonOptions {
  config_file?: string;
  service_folder?: string[];
  etcd_endpoint: string;
  fleet_endpoint: string;
  redis_url: string;
  queue_prefix: string;
  rabbitmq_endpoint?: string;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function envList(name: string): string[] | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  return raw.split(/[,:]/).filter((part) => part !== '');
}

export function addConfigOptions(cmd: Command, opts: { configRequired?: boolean } = {}): Command {
  const config = new Option('-c, --config_file <path>', 'Dynamite YAML config file').env('DYNAMITE_CONFIG_FILE');
  if (opts.configRequired) config.makeOptionMandatory(true);
  cmd.addOption(config);
  cmd.addOption(
    new Option('-s, --service_folder <dir>', 'folder with fleet unit files (repeatable; added to ServiceFiles.PathList)')
      .argParser(collect)
      .default(envList('DYNAMITE_SERVICE_FOLDER')),
  );
  return cmd;
}

export function addEtcdOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('-e, --etcd_endpoint <host:port>', 'etcd endpoint (v3 API; http:// or https:// optional, comma-separated for a cluster)')
      .env('DYNAMITE_ETCD_ENDPOINT')
      .default(DEFAULTS.etcdEndpoint),
  );
}

export function addFleetOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('-f, --fleet_endpoint <host:port>', 'fleet API endpoint (http:// optional)')
      .env('DYNAMITE_FLEET_ENDPOINT')
      .default(DEFAULTS.fleetEndpoint),
  );
}

export function addQueueOptions(cmd: Command): Command {
  cmd.addOption(new Option('--redis_url <url>', 'Redis holding the job queues: redis://HOST:PORT, rediss://..., or through Sentinel redis+sentinel://HOST:26379,HOST:26379/MASTER_NAME').env('DYNAMITE_REDIS_URL').default(DEFAULTS.redisUrl));
  cmd.addOption(new Option('--queue_prefix <prefix>', 'prefix of every queue key in Redis').env('DYNAMITE_QUEUE_PREFIX').default(DEFAULTS.queuePrefix));
  cmd.addOption(new Option('-r, --rabbitmq_endpoint <host:port>', 'accepted for compatibility with the original; ignored').env('DYNAMITE_RABBITMQ_ENDPOINT').hideHelp());
  return cmd;
}

/** All engine flags, as the original `dynamite` command had them, plus the queue flags. */
export function addEngineOptions(cmd: Command): Command {
  addConfigOptions(cmd);
  addEtcdOption(cmd);
  addFleetOption(cmd);
  addQueueOptions(cmd);
  return cmd;
}
