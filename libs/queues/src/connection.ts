import IORedis, { type Redis } from 'ioredis';

/**
 * A Redis connection as BullMQ needs it (blocking commands must never time out on their own). `redis://` or, for TLS,
 * `rediss://`; a password goes in the URL (`rediss://:PASSWORD@host:port`). Its errors are kept as `lastError`
 * (ioredis would print each one with its stack when nobody listens); the engine reports failing operations itself.
 */
export function createRedisConnection(url: string): Redis {
  const redis = new IORedis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
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
