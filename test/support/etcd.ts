import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

/**
 * A private etcd server for one test suite: its own ports on 127.0.0.1, its own temporary data dir.
 * Stopped (and its data dir removed) by `stop()`; `restart()` keeps the data dir.
 */
export class EtcdServer {
  readonly dataDir: string;
  clientPort = 0;
  peerPort = 0;
  private child: ChildProcess | null = null;
  private log: fs.WriteStream | null = null;

  private constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** The etcd process id (null when it is not running). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  static async start(): Promise<EtcdServer> {
    const server = new EtcdServer(fs.mkdtempSync(path.join(os.tmpdir(), 'dynamite-etcd-')));
    server.clientPort = await freePort();
    server.peerPort = await freePort();
    await server.launch();
    return server;
  }

  private async launch(): Promise<void> {
    const bin = process.env.ETCD_BIN ?? 'etcd';
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.log = fs.createWriteStream(path.join(this.dataDir, '..', `${path.basename(this.dataDir)}.log`), { flags: 'a' });
    const child = spawn(bin, [
      '--name', 'test', '--logger=zap', '--log-level=error', '--data-dir', path.join(this.dataDir, 'data'),
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `test=${peer}`, '--auto-compaction-retention', '0',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(this.log);
    child.stderr?.pipe(this.log);
    this.child = child;
    const exited = new Promise<never>((_, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start etcd (${bin}): ${err.message}; install etcd-server`)));
      child.once('exit', (code) => reject(new Error(`etcd exited early with code ${code}`)));
    });
    await Promise.race([this.waitHealthy(), exited]);
  }

  private async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`etcd on ${this.endpoint} not healthy after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server process, keeping its data (for restart tests). */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
    this.log?.end();
  }

  /** Starts the server again on the same ports and data dir. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** Stops the server and removes its data dir. */
  async stop(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    fs.rmSync(`${this.dataDir}.log`, { force: true });
  }
}
