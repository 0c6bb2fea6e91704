import fs from 'node:fs';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import IORedis from 'ioredis';
import { keys } from '@dynamite/domain';
import { parseEtcdEndpoints } from '@dynamite/store';
import type { Children, ManagedChild } from './children';
import { DemoError, etcdHealthy, freePort, redisAnswers, waitFor } from './net';

export const DEFAULT_ETCD = '127.0.0.1:2379';
export const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

export interface EtcdChoice {
  /** As given to `-e` (`host:port`, comma-separated for a cluster). */
  endpoint: string;
  hosts: string[];
  /** The private server we started, or null when we use an existing one. */
  child: ManagedChild | null;
  /** One line for the terminal. */
  note: string;
}

export interface RedisChoice {
  url: string;
  child: ManagedChild | null;
  note: string;
}

/** How many keys the engine root `/_dynamite/` holds (another engine's state when > 0). */
async function engineKeys(hosts: string[]): Promise<number> {
  const etcd = new Etcd3({ hosts, dialTimeout: 3000, defaultCallOptions: () => ({ deadline: Date.now() + 3000 }) });
  try {
    return await etcd.getAll().prefix(keys.root).count();
  } finally {
    etcd.close();
  }
}

/**
 * etcd for the demo. The engine keeps its state under the fixed root `/_dynamite/`, so the demo only uses an etcd
 * that holds no such keys: the one given with `--etcd_endpoint` (refused when another engine uses it), else
 * 127.0.0.1:2379 when it answers and is free, else a private etcd on free loopback ports with a temporary data dir.
 */
export async function chooseEtcd(explicit: string | undefined, children: Children, runDir: string, signal: AbortSignal): Promise<EtcdChoice> {
  if (explicit !== undefined) {
    let hosts: string[];
    try {
      hosts = parseEtcdEndpoints(explicit, false);
    } catch (err) {
      throw new DemoError(`--etcd_endpoint: ${err instanceof Error ? err.message : String(err)}`, 2);
    }
    let used: number;
    try {
      used = await engineKeys(hosts);
    } catch (err) {
      throw new DemoError(`etcd at ${explicit} does not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (used > 0) {
      throw new DemoError(
        `etcd at ${explicit} already holds ${used} key${used === 1 ? '' : 's'} under ${keys.root} (another dynamite engine's state); ` +
          'the demo would overwrite them. Leave out --etcd_endpoint to let the demo start a private etcd.',
      );
    }
    return { endpoint: explicit, hosts, child: null, note: `etcd: ${explicit} (given)` };
  }

  const defaultUrl = `http://${DEFAULT_ETCD}`;
  if (await etcdHealthy(defaultUrl)) {
    const used = await engineKeys([defaultUrl]).catch(() => -1);
    if (used === 0) return { endpoint: DEFAULT_ETCD, hosts: [defaultUrl], child: null, note: `etcd: ${DEFAULT_ETCD} (running already; the demo cleans its keys up)` };
    const why = used < 0 ? 'it did not answer a read' : `it holds another engine's ${keys.root} keys`;
    return startPrivateEtcd(children, runDir, signal, `${DEFAULT_ETCD} answers but ${why}`);
  }
  return startPrivateEtcd(children, runDir, signal, `nothing answers on ${DEFAULT_ETCD}`);
}

function onPath(bin: string): boolean {
  if (bin.includes('/')) return fs.existsSync(bin);
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && fs.existsSync(path.join(dir, bin)));
}

async function startPrivateEtcd(children: Children, runDir: string, signal: AbortSignal, why: string): Promise<EtcdChoice> {
  const bin = process.env.ETCD_BIN ?? 'etcd';
  if (!onPath(bin)) {
    throw new DemoError(`${why}, and the etcd binary is not installed; run \`bash scripts/demo.sh\`, which installs it (Debian: etcd-server)`);
  }
  const clientPort = await freePort();
  const peerPort = await freePort();
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = children.start('etcd', bin, [
    '--name', 'demo', '--logger=zap', '--log-level=warn', '--data-dir', path.join(runDir, 'etcd'),
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `demo=${peer}`,
  ]);
  await waitFor('private etcd answering', async () => {
    if (child.exitedYet) throw new DemoError(`private etcd exited at start:\n${children.tail(child)}`);
    return etcdHealthy(client, 500);
  }, 20_000, signal);
  return { endpoint: `127.0.0.1:${clientPort}`, hosts: [client], child, note: `etcd: private on 127.0.0.1:${clientPort} (${why}; temporary data dir)` };
}

/** Redis for the queues: the given URL, else 127.0.0.1:6379 when it answers, else a private redis-server. */
export async function chooseRedis(explicit: string | undefined, children: Children, runDir: string, signal: AbortSignal): Promise<RedisChoice> {
  if (explicit !== undefined) {
    const redis = new IORedis(explicit, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: () => null });
    let lastError: string | null = null;
    redis.on('error', (err: Error) => { lastError = err.message; });
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      throw new DemoError(`Redis at ${explicit} does not answer: ${lastError ?? (err instanceof Error ? err.message : String(err))}`);
    } finally {
      redis.disconnect();
    }
    return { url: explicit, child: null, note: `redis: ${explicit} (given; own queue prefix)` };
  }
  if (await redisAnswers('127.0.0.1', 6379)) {
    return { url: DEFAULT_REDIS, child: null, note: `redis: ${DEFAULT_REDIS} (running already; own queue prefix, cleaned up)` };
  }
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  if (!onPath(bin)) {
    throw new DemoError('nothing answers on 127.0.0.1:6379 and redis-server is not installed; run `bash scripts/demo.sh`, which installs it');
  }
  const port = await freePort();
  const dir = path.join(runDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const child = children.start('redis', bin, [
    '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir,
    '--maxmemory-policy', 'noeviction',
  ]);
  await waitFor('private redis answering', async () => {
    if (child.exitedYet) throw new DemoError(`private redis-server exited at start:\n${children.tail(child)}`);
    return redisAnswers('127.0.0.1', port);
  }, 10_000, signal);
  return { url: `redis://127.0.0.1:${port}`, child, note: `redis: private on 127.0.0.1:${port} (nothing answered on 6379)` };
}

/** Deletes the demo's queue keys (`<prefix>:*`) from Redis. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  const redis = new IORedis(url, { maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: () => null });
  redis.on('error', () => undefined); // the command's own rejection reports it
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) deleted += await redis.del(...found);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
