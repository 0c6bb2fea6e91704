import net from 'node:net';
import { HttpConfigError } from './errors';

/** Where the operator listener binds. */
export interface HttpBind {
  host: string;
  port: number;
}

/** Basic-auth credentials of the listener (everything but /healthz and /readyz, unless reads are public). */
export interface HttpCredentials {
  user: string;
  password: string;
}

export const DEFAULT_HTTP = '127.0.0.1:8080';
const EXAMPLE = 'expected host:port (e.g. 127.0.0.1:8080, [::1]:8080) or "off"';

/**
 * Parses the `--http` value: `host:port`, `[ipv6]:port`, or `off` (null: no listener). Port 0 asks the kernel for a
 * free port (tests). Throws HttpConfigError naming the flag and the value.
 */
export function parseHttpFlag(value: string, flag = '--http'): HttpBind | null {
  const raw = value.trim();
  if (raw.toLowerCase() === 'off') return null;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(raw);
  const plain = /^([^:[\]\s]+):(\d+)$/.exec(raw);
  const match = bracketed ?? plain;
  if (!match) {
    if (/^:?\d+$/.test(raw)) throw new HttpConfigError(`${flag} "${value}": the host is missing; ${EXAMPLE}`);
    throw new HttpConfigError(`${flag} "${value}": ${EXAMPLE}`);
  }
  const host = match[1]!;
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new HttpConfigError(`${flag} "${value}": port must be 0..65535`);
  }
  if (bracketed && net.isIPv6(host) === false) throw new HttpConfigError(`${flag} "${value}": "${host}" is not an IPv6 address`);
  return { host, port };
}

/** True for 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and `localhost`: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.split('.')[0] === '127';
  if (net.isIPv6(h)) {
    if (h === '::1' || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(h)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.split('.')[0] === '127';
  }
  return false;
}

/**
 * Credentials from DYNAMITE_HTTP_USER / DYNAMITE_HTTP_PASSWORD: both set -> credentials; neither -> null; only one,
 * an empty one, or a blank one (only spaces) -> an error (a half-configured lock is no lock).
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): HttpCredentials | null {
  const user = env.DYNAMITE_HTTP_USER;
  const password = env.DYNAMITE_HTTP_PASSWORD;
  const hasUser = user !== undefined && user !== '';
  const hasPassword = password !== undefined && password !== '';
  if (!hasUser && !hasPassword) return null;
  if (!hasUser) throw new HttpConfigError('DYNAMITE_HTTP_PASSWORD is set but DYNAMITE_HTTP_USER is not; set both (or neither)');
  if (!hasPassword) throw new HttpConfigError('DYNAMITE_HTTP_USER is set but DYNAMITE_HTTP_PASSWORD is not; set both (or neither)');
  if (user!.trim() === '') throw new HttpConfigError('DYNAMITE_HTTP_USER is blank (only spaces); set a user name');
  if (password!.trim() === '') throw new HttpConfigError('DYNAMITE_HTTP_PASSWORD is blank (only spaces); set a real password');
  if (user!.includes(':')) throw new HttpConfigError('DYNAMITE_HTTP_USER must not contain ":" (basic auth separates user and password with it)');
  return { user: user!, password: password! };
}

/** DYNAMITE_HTTP_PUBLIC_READS: `1`/`true`/`yes` open the read endpoints; unset, empty, `0`/`false`/`no` do not. */
export function publicReadsFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = (env.DYNAMITE_HTTP_PUBLIC_READS ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new HttpConfigError(`DYNAMITE_HTTP_PUBLIC_READS "${env.DYNAMITE_HTTP_PUBLIC_READS}": expected 1/true/yes or 0/false/no`);
}

/** Credentials that lock something: a user and a password that are not blank. */
export function lockingCredentials(credentials: HttpCredentials | null): credentials is HttpCredentials {
  return credentials !== null && credentials.user.trim() !== '' && credentials.password.trim() !== '';
}

/**
 * The rule of the listener: without credentials it only binds to loopback, because the board can retry, remove
 * and add jobs, and the API shows the whole cluster's state. Blank credentials are no credentials.
 */
export function checkBind(bind: HttpBind, credentials: HttpCredentials | null, flag = '--http'): void {
  if (lockingCredentials(credentials) || isLoopbackHost(bind.host)) return;
  throw new HttpConfigError(
    `${flag} ${formatBind(bind)}: refusing to serve the board and API on a non-loopback address without credentials ` +
      '(anyone who can reach it could retry or remove fleet actions); set DYNAMITE_HTTP_USER and DYNAMITE_HTTP_PASSWORD, ' +
      'or bind to 127.0.0.1',
  );
}

export function formatBind(bind: HttpBind): string {
  return bind.host.includes(':') ? `[${bind.host}]:${bind.port}` : `${bind.host}:${bind.port}`;
}
