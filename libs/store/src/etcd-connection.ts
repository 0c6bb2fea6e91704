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

export function createEtcdClient(opts: EtcdConnectionOptions): Etcd3 {
  const tls = opts.caFile !== undefined || opts.certFile !== undefined;
  const options: IOptions = {
    hosts: parseEtcdEndpoints(opts.endpoint, tls),
    dialTimeout: 5_000,
    // Short deadlines: a stuck etcd must fail a job (which BullMQ retries), not hang it.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + (opts.callTimeoutMs ?? 10_000) }),
  };
  if (tls) {
    options.credentials = {
      rootCertificate: fs.readFileSync(opts.caFile ?? ''),
      ...(opts.keyFile ? { privateKey: fs.readFileSync(opts.keyFile) } : {}),
      ...(opts.certFile ? { certChain: fs.readFileSync(opts.certFile) } : {}),
    };
  }
  if (opts.username) options.auth = { username: opts.username, password: opts.password ?? '' };
  return new Etcd3(options);
}
