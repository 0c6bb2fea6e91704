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
 * shared one.
 */
export class RedisServer {
  private constructor(readonly port: number, private readonly child: ChildProcess, private readonly dir: string) {}

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
    const child = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', [
      '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir,
    ], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`)));
      waitForPort(port).then(resolve, reject);
    });
    return new RedisServer(port, child, dir);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      await new Promise<void>((resolve) => { this.child.once('exit', () => resolve()); this.child.kill('SIGTERM'); });
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
