import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { freePort, waitForPort } from '../support/ports';

interface Server {
  name: string;
  port: number;
  child: ChildProcess | null;
}

export const MASTER_NAME = 'mymaster';

/**
 * A real Redis primary, one replica and three sentinels (`redis-server --sentinel`, which is what Debian's
 * redis-sentinel runs) on free loopback ports, in one temp folder. stop() ends them all and removes the folder.
 */
export class SentinelSetup {
  private constructor(readonly dir: string, readonly primary: Server, readonly replica: Server, readonly sentinels: Server[]) {}

  static async start(): Promise<SentinelSetup> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynamite-sentinel-'));
    const primary: Server = { name: 'primary', port: await freePort(), child: null };
    const replica: Server = { name: 'replica', port: await freePort(), child: null };
    const sentinels: Server[] = [];
    for (let i = 0; i < 3; i += 1) sentinels.push({ name: `sentinel${i}`, port: await freePort(), child: null });
    const setup = new SentinelSetup(dir, primary, replica, sentinels);
    try {
      setup.redis(primary, []);
      await waitForPort(primary.port);
      setup.redis(replica, ['--replicaof', '127.0.0.1', String(primary.port)]);
      await waitForPort(replica.port);
      for (const s of sentinels) {
        const conf = path.join(dir, `${s.name}.conf`);
        // Sentinels rewrite their config file: each has its own.
        fs.writeFileSync(conf, [
          `port ${s.port}`, 'bind 127.0.0.1', `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 5000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          '',
        ].join('\n'));
        setup.start(s, [conf, '--sentinel']);
      }
      for (const s of sentinels) await waitForPort(s.port);
      await setup.waitReady();
    } catch (err) {
      await setup.stop();
      throw err;
    }
    return setup;
  }

  /** The URL the engine is given. */
  get url(): string {
    return `redis+sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER_NAME}`;
  }

  private redis(s: Server, extra: string[]): void {
    this.start(s, ['--bind', '127.0.0.1', '--port', String(s.port), '--save', '', '--appendonly', 'no', '--dir', this.dir,
      '--dbfilename', `${s.name}.rdb`, ...extra]);
  }

  private start(s: Server, args: string[]): void {
    const log = fs.openSync(path.join(this.dir, `${s.name}.log`), 'a');
    s.child = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
  }

  /** The master's port as a sentinel says it. */
  async masterPort(sentinel = this.sentinels[0]!): Promise<number> {
    const client = new IORedis({ port: sentinel.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      const addr = (await client.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [string, string] | null;
      return addr ? Number(addr[1]) : 0;
    } finally {
      client.disconnect();
    }
  }

  /** Every sentinel knows the master, the replica and the other sentinels; the replica is in sync. */
  private async waitReady(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await Promise.all(this.sentinels.map(async (s) => {
        const client = new IORedis({ port: s.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
        try {
          await client.connect();
          const master = (await client.call('SENTINEL', 'master', MASTER_NAME)) as string[];
          const field = (name: string) => Number(master[master.indexOf(name) + 1]);
          return field('num-slaves') >= 1 && field('num-other-sentinels') >= 2;
        } catch {
          return false;
        } finally {
          client.disconnect();
        }
      }));
      if (ok.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`sentinels not ready after ${timeoutMs} ms (see ${this.dir})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async kill(s: Server, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = s.child;
    s.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill(sig); });
  }

  async stop(): Promise<void> {
    await Promise.all([this.primary, this.replica, ...this.sentinels].map((s) => this.kill(s, 'SIGTERM')));
    if (!process.env.DYNAMITE_KEEP_TEST_DIRS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
