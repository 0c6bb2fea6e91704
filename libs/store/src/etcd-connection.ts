import fs from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';

/** How to reach etcd: endpoints plus optional TLS and auth (flags `--etcd_ca`, `--etcd_cert`, ...). */
export interface EtcdConnectionOptions {
  /** `host:port`, `http://host:port`, `https://host:port`, or several of them separated by commas. */
  endpoint: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  /** Deadline of each unary call (ms). */
  callTimeoutMs?: number;
}

/** Turns the `-e/--etcd_endpoint` value into etcd3 host URLs; throws a readable error for bad input. */
export function parseEtcdEndpoints(endpoint: string, tls: boolean): string[] {
  const parts = endpoint.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new Error(`etcd endpoint "${endpoint}" is empty`);
  return parts.map((part) => {
    const withScheme = /^[a-z]+:\/\//i.test(part) ? part : `${tls ? 'https' : 'http'}://${part}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new Error(`etcd endpoint "${part}" is not host:port`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`etcd endpoint "${part}": scheme must be http or https`);
    if (url.port === '' ) throw new Error(`etcd endpoint "${part}" has no port`);
    return `${url.protocol}//${url.host}`;
  });
}

/** A TLS file given to a `--etcd_*` flag that cannot be read: the flag, the file and why. */
export class EtcdOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EtcdOptionError';
  }
}

function readPem(file: string, flag: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new EtcdOptionError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export function createEtcdClient(opts: EtcdConnectionOptions): Etcd3 {
  const tls = opts.caFile !== undefined || opts.certFile !== undefined || opts.keyFile !== undefined;
  const options: IOptions = {
    hosts: parseEtcdEndpoints(opts.endpoint, tls),
    dialTimeout: 5_000,
    // Short deadlines: a stuck etcd must fail a job (which BullMQ retries), not hang it.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + (opts.callTimeoutMs ?? 10_000) }),
  };
  if (tls) {
    if (opts.caFile === undefined) throw new EtcdOptionError('--etcd_cert needs --etcd_ca: the CA that signed etcd\'s certificate');
    if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) throw new EtcdOptionError('--etcd_cert and --etcd_key go together: set both (or neither)');
    options.credentials = {
      rootCertificate: readPem(opts.caFile, '--etcd_ca'),
      ...(opts.keyFile ? { privateKey: readPem(opts.keyFile, '--etcd_key') } : {}),
      ...(opts.certFile ? { certChain: readPem(opts.certFile, '--etcd_cert') } : {}),
    };
  }
  if (opts.username) options.auth = { username: opts.username, password: opts.password ?? '' };
  return new Etcd3(options);
}

/**
 * What an etcd error at start means, in words an operator acts on, or null when it is not about reaching or
 * authenticating to etcd. gRPC reports TLS failures as `14 UNAVAILABLE: No connection established. Last error: ...`.
 */
export function explainEtcdError(err: unknown): string | null {
  const text = err instanceof Error ? err.message : String(err);
  if (/authentication failed|invalid user ID or password/i.test(text)) return 'authentication failed: wrong --etcd_user or --etcd_password';
  if (/user name is empty|authentication is required|token/i.test(text) && /INVALID_ARGUMENT|UNAUTHENTICATED/.test(text)) {
    return 'etcd requires authentication: set --etcd_user and --etcd_password';
  }
  if (/permission denied/i.test(text)) return "permission denied: the user's role needs read-write on /_dynamite/ and the metrics path, read on the application path";
  if (/alert bad certificate|alert certificate required|alert number (42|116)|alert unknown ca/i.test(text)) {
    return 'etcd refused the client certificate: --etcd_cert/--etcd_key must be signed by a CA etcd trusts (--trusted-ca-file)';
  }
  const trust = /Last error: (?:Error: )?([^.]*(?:certificate|self.signed|Hostname\/IP)[^.]*)/i.exec(text);
  if (trust) return `etcd's certificate is not trusted: ${trust[1]!.trim()} (check --etcd_ca)`;
  if (/wrong version number|packet length too long/i.test(text)) return 'TLS handshake failed: is this a TLS endpoint? (use http:// for a plain one)';
  if (/UNAVAILABLE|No connection established|GRPCConnectFailed/i.test(text)) {
    const last = /Last error: (?:Error: )?(.*?)(?:\s*\(\d{4}-\d\d-\d\dT[^)]*\))?(?:\. Resolution note|$)/s.exec(text)?.[1]?.split('\n')[0]?.trim();
    if (last && /ECONNREFUSED/.test(last)) return 'connection refused';
    return last ? `unreachable: ${last}` : 'unreachable';
  }
  return null;
}
