import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3, type IOptions } from 'etcd3';
import IORedis, { type RedisOptions } from 'ioredis';
import { keys } from '@dynamite/domain';
import { FleetClient } from '@dynamite/fleet-client';
import { startFleetEmulator, type FleetEmulator } from '@dynamite/fleet-emulator';
import { DYNAMITE_BIN, REPO_ROOT, waitFor, webServiceConfig } from '../support/engine-harness';
import { freePort, waitForPort } from '../support/ports';
import { uniquePrefix } from '../support/redis';

/** A temp folder for one suite; removed by `cleanup()`. */
export function tempDir(suite: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dynamite-sec-${suite}-`));
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Paths of the PEM files `makeCertificates` writes. */
export interface Certificates {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by another CA: what the servers must refuse. */
  rogueCert: string;
  rogueKey: string;
}

/**
 * A CA, a server certificate for 127.0.0.1/localhost and a client certificate signed by it, and a client certificate
 * of another CA, all made with Debian's openssl in `dir`.
 */
export function makeCertificates(dir: string): Certificates {
  const file = (name: string) => path.join(dir, name);
  const ca = (name: string) => {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.pem`, '-days', '2',
      '-subj', `/CN=dynamite test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  };
  const signed = (name: string, by: string, cn: string, ext: string) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    fs.writeFileSync(file(`${name}.ext`), ext);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${by}.pem`, '-CAkey', `${by}-key.pem`, '-CAcreateserial', '-out', `${name}.pem`,
      '-days', '2', '-extfile', `${name}.ext`], dir);
  };
  ca('ca');
  ca('rogue-ca');
  signed('server', 'ca', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  signed('client', 'ca', 'dynamite', 'extendedKeyUsage=clientAuth\n');
  signed('rogue', 'rogue-ca', 'dynamite', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: file('ca.pem'), serverCert: file('server.pem'), serverKey: file('server-key.pem'),
    clientCert: file('client.pem'), clientKey: file('client-key.pem'), rogueCert: file('rogue.pem'), rogueKey: file('rogue-key.pem'),
  };
}

/** A child process of a test, stopped (with its group) by `stop()`. */
class Child {
  constructor(readonly child: ChildProcess, readonly logFile: string) {}

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  async stop(): Promise<void> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
    });
  }
}

function start(bin: string, args: string[], dir: string, name: string, env: NodeJS.ProcessEnv = process.env): Child {
  const logFile = path.join(dir, `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', out, out], detached: true, env });
  fs.closeSync(out);
  return new Child(child, logFile);
}

/** How the etcd of a suite is secured. */
export type EtcdSecurity = { tls: Certificates } | { auth: { user: string; password: string } };

/**
 * A private etcd with TLS and client certificates (`--client-cert-auth`), or with user/password auth (a `root` user,
 * and the engine's user with a role that may read and write every key).
 */
export class SecureEtcd {
  private constructor(readonly port: number, readonly security: EtcdSecurity, private readonly proc: Child, readonly dataDir: string) {}

  get endpoint(): string {
    return `${'tls' in this.security ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** The `dynamite` flags that reach this etcd. */
  get flags(): string[] {
    if ('tls' in this.security) {
      const { ca, clientCert, clientKey } = this.security.tls;
      return ['-e', this.endpoint, '--etcd_ca', ca, '--etcd_cert', clientCert, '--etcd_key', clientKey];
    }
    return ['-e', this.endpoint, '--etcd_user', this.security.auth.user, '--etcd_password', this.security.auth.password];
  }

  /** A client of the test (the root user for auth). */
  client(): Etcd3 {
    const options: IOptions = { hosts: this.endpoint };
    if ('tls' in this.security) {
      const { ca, clientCert, clientKey } = this.security.tls;
      options.credentials = { rootCertificate: fs.readFileSync(ca), certChain: fs.readFileSync(clientCert), privateKey: fs.readFileSync(clientKey) };
    } else {
      options.auth = { username: 'root', password: ROOT_PASSWORD };
    }
    return new Etcd3(options);
  }

  private etcdctl(args: string[]): string {
    const base = ['--endpoints', this.endpoint, '--dial-timeout', '3s'];
    if ('tls' in this.security) {
      const { ca, clientCert, clientKey } = this.security.tls;
      base.push('--cacert', ca, '--cert', clientCert, '--key', clientKey);
    }
    // etcdctl 3.4 prints some answers (`endpoint health`) on stderr.
    const r = spawnSync('etcdctl', [...base, ...args], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 });
    if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr || r.stdout}`);
    return `${r.stdout}${r.stderr}`;
  }

  static async start(dir: string, security: EtcdSecurity): Promise<SecureEtcd> {
    const port = await freePort();
    const peer = await freePort();
    const scheme = 'tls' in security ? 'https' : 'http';
    const client = `${scheme}://127.0.0.1:${port}`;
    const dataDir = path.join(dir, `etcd-${port}`);
    const args = ['--name', 'sec', '--log-level=error', '--logger=zap', '--data-dir', dataDir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `sec=http://127.0.0.1:${peer}`];
    if ('tls' in security) {
      const t = security.tls;
      args.push('--cert-file', t.serverCert, '--key-file', t.serverKey, '--client-cert-auth', '--trusted-ca-file', t.ca);
    }
    const etcd = new SecureEtcd(port, security, start(process.env.ETCD_BIN ?? 'etcd', args, dir, `etcd-${port}`), dataDir);
    await waitFor(async () => {
      try {
        return /is healthy/.test(etcd.etcdctl(['endpoint', 'health']));
      } catch {
        return false;
      }
    }, 20_000, `etcd on ${client} healthy`);
    if ('auth' in security) {
      const { user, password } = security.auth;
      etcd.etcdctl(['user', 'add', `root:${ROOT_PASSWORD}`]);
      etcd.etcdctl(['role', 'add', 'dynamite']);
      // Every key: the engine's /_dynamite, the application and metrics paths (the config's, in the tests).
      etcd.etcdctl(['role', 'grant-permission', 'dynamite', '--prefix=true', 'readwrite', '/']);
      etcd.etcdctl(['user', 'add', `${user}:${password}`]);
      etcd.etcdctl(['user', 'grant-role', user, 'dynamite']);
      etcd.etcdctl(['auth', 'enable']);
    }
    return etcd;
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}

const ROOT_PASSWORD = 'root-password-for-the-test';

/** A private Redis with a password and/or TLS (server certificate of the suite's CA, clients need no certificate). */
export class SecureRedis {
  private constructor(readonly port: number, readonly opts: { password?: string; tls?: Certificates }, private readonly proc: Child) {}

  get url(): string {
    const auth = this.opts.password ? `:${encodeURIComponent(this.opts.password)}@` : '';
    return `${this.opts.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  static async start(dir: string, opts: { password?: string; tls?: Certificates }): Promise<SecureRedis> {
    const port = await freePort();
    const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
    if (opts.tls) {
      args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.serverCert, '--tls-key-file', opts.tls.serverKey,
        '--tls-ca-cert-file', opts.tls.ca, '--tls-auth-clients', 'no');
    } else {
      args.push('--port', String(port));
    }
    if (opts.password) args.push('--requirepass', opts.password);
    const proc = start(process.env.REDIS_SERVER_BIN ?? 'redis-server', args, dir, `redis-${port}`);
    await waitForPort(port);
    return new SecureRedis(port, opts, proc);
  }

  /** A client of the test. */
  client(): IORedis {
    const options: RedisOptions = { maxRetriesPerRequest: 3 };
    if (this.opts.tls) options.tls = { ca: fs.readFileSync(this.opts.tls.ca) };
    return new IORedis(this.url, options);
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}

/** The web service of the engine tests (min 1, max 3, up after 1.5 s above 80) in `dir`, and the fleet emulator. */
export async function engineFixture(dir: string): Promise<{ configFile: string; emulator: FleetEmulator; fleet: FleetClient; prefix: string }> {
  const { config, units } = webServiceConfig({ min: 1, max: 3, cooldown: 1 });
  const unitDir = path.join(dir, 'units');
  fs.mkdirSync(unitDir, { recursive: true });
  for (const [name, text] of Object.entries(units)) fs.writeFileSync(path.join(unitDir, name), text);
  const configFile = path.join(dir, 'dynamite.yaml');
  fs.writeFileSync(configFile, config.replaceAll('{{UNITS}}', unitDir));
  const emulator = await startFleetEmulator({ port: 0 });
  return { configFile, emulator, fleet: new FleetClient({ endpoint: emulator.url, retry: { attempts: 3 } }), prefix: uniquePrefix('sec') };
}

/** `dynamite run` with `args`, as a child of the test (its own process group), logging to a file in `dir`. */
export function spawnDynamite(dir: string, name: string, args: string[], env: Record<string, string> = {}): Child {
  return start(process.execPath, [DYNAMITE_BIN, ...args], dir, name, { ...process.env, DYNAMITE_LOG_LEVEL: 'info', ...env });
}

export { REPO_ROOT, keys };
