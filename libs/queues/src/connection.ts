import IORedis, { type Redis, type RedisOptions } from 'ioredis';

/** A `--redis_url` that cannot be used; the message names the problem and the accepted forms. */
export class RedisUrlError extends Error {
  constructor(url: string, problem: string) {
    super(`--redis_url ${redactRedisUrl(url)}: ${problem} (forms: redis://[:PASSWORD@]HOST:PORT[/DB], rediss://..., `
      + 'redis+sentinel://[:PASSWORD@]HOST:PORT,HOST:PORT,.../MASTER_NAME[/DB][?sentinel_password=...])');
    this.name = 'RedisUrlError';
  }
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
  const redis = sentinel ? new IORedis({
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
  }) : new IORedis(url, common);
  // Errors are kept as `lastError` (ioredis would print each one with its stack when nobody listens); the engine
  // reports failing operations itself.
  redis.on('error', (err: Error) => { lastErrors.set(redis, err); });
  return redis;
}

const lastErrors = new WeakMap<Redis, Error>();

/** The URL with its password replaced by `***`: what error messages and logs may show. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/** Redis could not be used at start: one line saying which Redis (password hidden) and why. */
export class RedisConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisConnectError';
  }
}

const TLS_TRUST = /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE/;

/** What went wrong, in words an operator acts on. */
export function explainRedisError(err: Error & { code?: string }, url: string): string {
  const text = err.message.split('\n')[0]!;
  if (/WRONGPASS/.test(text)) return 'wrong password or user (WRONGPASS): check the one in --redis_url';
  if (/NOAUTH/.test(text)) return 'Redis requires a password: put it in --redis_url (rediss://:PASSWORD@host:port)';
  if (TLS_TRUST.test(err.code ?? '')) return `its TLS certificate is not trusted: ${text} (for a private CA, set NODE_EXTRA_CA_CERTS=/path/to/ca.pem)`;
  if (/wrong version number|packet length too long|EPROTO/i.test(`${text} ${err.code ?? ''}`)) return `TLS handshake failed (${text}): is this a TLS port? use redis:// for a plain one`;
  if (err.code === 'ECONNRESET' && url.startsWith('redis://')) return 'the connection was reset: is this a TLS port? use rediss://';
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  return text;
}

/**
 * A connection that answered PING within `timeoutMs`; otherwise a RedisConnectError naming the Redis (password
 * hidden) and the reason (wrong password, untrusted certificate, ...), and the connection is closed.
 */
export async function connectRedis(url: string, timeoutMs = 5_000): Promise<Redis> {
  const redis = createRedisConnection(url);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    return redis;
  } catch (err) {
    redis.disconnect();
    const cause = lastErrors.get(redis) ?? (err instanceof Error ? err : new Error(String(err)));
    throw new RedisConnectError(`cannot use Redis at ${redactRedisUrl(url)}: ${explainRedisError(cause, url)}`);
  } finally {
    clearTimeout(timer);
  }
}
