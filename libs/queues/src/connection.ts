import IORedis, { type Redis, type RedisOptions } from 'ioredis';

/** A `--redis_url` that cannot be used; the message names the problem and the accepted forms. */
export class RedisUrlError extends Error {
  constructor(url: string, problem: string) {
    super(`--redis_url ${redact(url)}: ${problem} (forms: redis://[:PASSWORD@]HOST:PORT[/DB], rediss://..., `
      + 'redis+sentinel://[:PASSWORD@]HOST:PORT,HOST:PORT,.../MASTER_NAME[/DB][?sentinel_password=...])');
    this.name = 'RedisUrlError';
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

const SENTINEL_SCHEMES = ['redis+sentinel:', 'rediss+sentinel:'];
const DEFAULT_SENTINEL_PORT = 26379;

/** A Redis behind Sentinel: the sentinels to ask and the name of the master they watch. */
export interface SentinelTarget {
  sentinels: { host: string; port: number }[];
  name: string;
  username?: string;
  password?: string;
  sentinelPassword?: string;
  db?: number;
  tls: boolean;
}

/**
 * Parses `redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT],HOST[:PORT],.../MASTER_NAME[/DB][?sentinel_password=...]`
 * (`rediss+sentinel://` for TLS to the master and replicas); null for any other URL (plain `redis://`, `rediss://`).
 */
export function parseSentinelUrl(url: string): SentinelTarget | null {
  const scheme = SENTINEL_SCHEMES.find((s) => url.toLowerCase().startsWith(`${s}//`));
  if (!scheme) return null;
  const rest = url.slice(scheme.length + 2);
  const at = rest.lastIndexOf('@', rest.indexOf('/') === -1 ? rest.length : rest.indexOf('/'));
  const auth = at === -1 ? '' : rest.slice(0, at);
  const afterAuth = at === -1 ? rest : rest.slice(at + 1);
  const [location, query = ''] = afterAuth.split('?', 2) as [string, string?];
  const [hostList = '', name = '', db, ...extra] = location.split('/');
  if (extra.length > 0) throw new RedisUrlError(url, 'too many path parts');
  if (name === '') throw new RedisUrlError(url, "the master's name is missing after the sentinels");
  const sentinels = hostList.split(',').filter((h) => h !== '').map((hostPort) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort);
    if (!m) throw new RedisUrlError(url, `sentinel "${hostPort}" is not HOST[:PORT]`);
    const port = m[2] === undefined ? DEFAULT_SENTINEL_PORT : Number(m[2]);
    if (port < 1 || port > 65535) throw new RedisUrlError(url, `sentinel "${hostPort}": port out of range`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
  if (sentinels.length === 0) throw new RedisUrlError(url, 'no sentinel given');
  const target: SentinelTarget = { sentinels, name: decodeURIComponent(name), tls: scheme === 'rediss+sentinel:' };
  if (auth !== '') {
    const colon = auth.indexOf(':');
    const user = colon === -1 ? '' : decodeURIComponent(auth.slice(0, colon));
    const password = decodeURIComponent(colon === -1 ? auth : auth.slice(colon + 1));
    if (user !== '') target.username = user;
    if (password !== '') target.password = password;
  }
  if (db !== undefined && db !== '') {
    if (!/^\d+$/.test(db)) throw new RedisUrlError(url, `database "${db}" is not a number`);
    target.db = Number(db);
  }
  for (const [key, value] of new URLSearchParams(query)) {
    if (key === 'sentinel_password') target.sentinelPassword = value;
    else throw new RedisUrlError(url, `unknown parameter "${key}"`);
  }
  return target;
}

/** Checks a `--redis_url` at start: a plain Redis URL, or a Sentinel one (throws RedisUrlError). */
export function checkRedisUrl(url: string): void {
  if (parseSentinelUrl(url)) return;
  if (!/^rediss?:\/\//i.test(url)) throw new RedisUrlError(url, 'unknown scheme');
}

/**
 * A Redis connection as BullMQ needs it (blocking commands must never time out on their own). Through Sentinel it
 * follows the master: on every (re)connection it asks the sentinels where the master is, and it reconnects when the
 * server it is on has become a read-only replica.
 */
export function createRedisConnection(url: string): Redis {
  const common: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false };
  const sentinel = parseSentinelUrl(url);
  if (!sentinel) return new IORedis(url, common);
  return new IORedis({
    ...common,
    sentinels: sentinel.sentinels,
    name: sentinel.name,
    ...(sentinel.username !== undefined ? { username: sentinel.username } : {}),
    ...(sentinel.password !== undefined ? { password: sentinel.password } : {}),
    ...(sentinel.sentinelPassword !== undefined ? { sentinelPassword: sentinel.sentinelPassword } : {}),
    ...(sentinel.db !== undefined ? { db: sentinel.db } : {}),
    ...(sentinel.tls ? { tls: {} } : {}),
    // No failoverDetector: with it, quit() leaves its sentinel connections open and the process never exits
    // (ioredis 6). Sentinel itself makes clients move: it kills the connections of an instance it reconfigures.
    // A demoted master answers writes with READONLY: reconnect (to the new master) and send the command again.
    reconnectOnError: (err) => (/^READONLY/.test(err.message) ? 2 : false),
  });
}
