import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRedisConnection } from '@dynamite/queues';
import { freePort, waitForPort } from './ports';

export const REDIS_URL = process.env.DYNAMITE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A queue prefix no other suite uses, so suites can share one Redis. */
export function uniquePrefix(suite: string): string {
  return `dyntest-${suite}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under a prefix (only the keys this suite created). */
export async function deletePrefix(prefix: string, url = REDIS_URL): Promise<void> {
  // The engine's own connection, so Sentinel URLs work here too.
  const redis = createRedisConnection(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * A private Redis server (free port, temp dir) for tests that must wipe Redis (FLUSHALL) without touching the
 * shared one. It saves nothing: killed and started again (the chaos suite does), it comes back empty.
 */
export class RedisServer {
  private constructor(readonly port: number, private child: ChildProcess, private readonly dir: string) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  /** Starts a server (again on `port`, when given: a restart). */
  static async start(port?: number): Promise<RedisServer> {
    port ??= await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynamite-redis-'));
    return new RedisServer(port, await RedisServer.launch(port, dir), dir);
  }

  private static async launch(port: number, dir: string): Promise<ChildProcess> {
    const child = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', [
      '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir,
    ], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`)));
      waitForPort(port).then(resolve, reject);
    });
    return child;
  }

  /** Ends the server with `signal` (SIGKILL: a crash) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>((resolve) => { this.child.once('exit', () => resolve()); this.child.kill(signal); });
    }
  }

  /** Starts a killed server again on the same port. */
  async restart(): Promise<void> {
    this.child = await RedisServer.launch(this.port, this.dir);
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
