import net from 'node:net';

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('no port'));
      server.close(() => resolve(address.port));
    });
  });
}

/** Whether nothing listens on 127.0.0.1:port (we can bind it). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * The first port of `count` consecutive free ports. Searched from a random start below Linux's ephemeral range
 * (32768+), so outgoing connections do not take them meanwhile and two demos rarely pick the same range.
 */
export async function freePortRange(count: number, random: () => number = Math.random): Promise<number> {
  const low = 20000;
  const high = 32000 - count;
  const start = low + Math.floor(random() * (high - low));
  for (let i = 0; i < 2000; i += 1) {
    const base = low + ((start - low + i * count) % (high - low));
    let free = true;
    for (let p = base; p < base + count && free; p += 1) free = await isPortFree(p);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports between ${low} and ${high + count}`);
}

/** Sends raw bytes to host:port and returns what came back within timeoutMs ('' when nothing answered). */
export function tcpExchange(host: string, port: number, send: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const socket = net.connect({ host, port });
    const done = () => {
      socket.destroy();
      resolve(data);
    };
    socket.setTimeout(timeoutMs, done);
    socket.once('connect', () => socket.write(send));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.includes('\r\n')) done();
    });
    socket.once('error', done);
    socket.once('close', done);
  });
}

/** `+PONG` from a Redis that needs no password. */
export async function redisAnswers(host: string, port: number): Promise<boolean> {
  return (await tcpExchange(host, port, 'PING\r\n')).startsWith('+PONG');
}

/** etcd's `/health` says `"health":"true"`. */
export async function etcdHealthy(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return false;
    return ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new DemoAbort();
    if (await check()) return;
    if (Date.now() > deadline) throw new DemoError(`${what} did not happen within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A problem the user can act on: printed as one line, exit code 1 (or `exitCode`). */
export class DemoError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Ctrl-C (or SIGTERM) while starting up. */
export class DemoAbort extends Error {
  constructor() {
    super('interrupted');
  }
}
