import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import type { EngineContext, LeadershipStatus, Logger } from '@dynamite/engine';
import { createApiRouter, HttpError } from './api';
import { basicAuth, isMutating } from './basic-auth';
import { checkBind, credentialsFromEnv, formatBind, type HttpBind, type HttpCredentials } from './bind';
import { BOARD_PATH, createBoardRouter } from './board';
import { HttpConfigError } from './errors';
import { OperatorMetrics } from './operator-metrics';
import { Probes } from './probes';

export interface HttpListenOptions extends HttpBind {
  /** Basic-auth credentials; undefined reads DYNAMITE_HTTP_USER / DYNAMITE_HTTP_PASSWORD, null means none. */
  credentials?: HttpCredentials | null;
  /** Deadline of each probe of Redis, etcd and fleet (ms, default 2000). */
  probeTimeoutMs?: number;
  /**
   * The address is the default rather than one the user asked for: when it is already in use (a second engine
   * process on the machine), log a warning and run without the listener instead of failing.
   */
  bestEffort?: boolean;
}

/** What the listener reads: the scheduler's engine context, its sample watch and its Redis connection. */
export interface HttpTargets {
  ctx: EngineContext;
  redis: Redis;
  watch?: { revision: string | null; prefix: string } | null;
  log?: Logger;
  /** The scheduler's place in the election (leader or standby); absent: not a scheduler. */
  leadership?: { status(): LeadershipStatus } | null;
}

export interface RunningHttp {
  url: string;
  host: string;
  port: number;
  /** Whether basic auth protects the board and mutating requests. */
  authenticated: boolean;
  close(): Promise<void>;
}

const ENDPOINTS = [
  'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /api/leader', 'GET /api/services', 'GET /api/services/:name',
  'GET /api/services/:name/decisions?limit=N', `GET ${BOARD_PATH} (Bull Board)`,
];

/** The express app: health, readiness, metrics, the JSON API and Bull Board, with basic auth where it matters. */
export function createOperatorApp(targets: HttpTargets, credentials: HttpCredentials | null, probeTimeoutMs = 2_000): express.Express {
  const { ctx } = targets;
  const probes = new Probes({ redis: targets.redis, store: ctx.store, fleet: () => ctx.fleet, timeoutMs: probeTimeoutMs });
  const queues = ctx.jobs.jobQueues.all();
  const now = () => ctx.clock.now();
  const metrics = new OperatorMetrics({
    metrics: ctx.metrics,
    store: ctx.store,
    config: () => ctx.config.current(),
    queues,
    probes,
    watchRevision: () => targets.watch?.revision ?? null,
    watchPrefix: () => targets.watch?.prefix ?? null,
    leadership: () => targets.leadership?.status() ?? null,
    now,
    timeoutMs: probeTimeoutMs,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Every request that changes something needs credentials, and so does everything that reaches the board (its
  // pages, assets and API): the check is mounted with the board, so it matches whatever the board's mount matches
  // (express paths are case-insensitive).
  app.use(basicAuth(credentials, isMutating));
  app.use(createApiRouter({
    store: ctx.store, config: () => ctx.config.current(), probes, metrics, now, timeoutMs: probeTimeoutMs, startedAt: now(),
    leadership: () => targets.leadership?.status() ?? null,
  }));
  app.use(BOARD_PATH, basicAuth(credentials, () => true), createBoardRouter(queues));
  app.get('/', (_req, res) => {
    res.json({ name: 'dynamite', endpoints: ENDPOINTS, auth: credentials !== null ? 'basic (board and mutating requests)' : 'none (loopback only)' });
  });
  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: `no such endpoint: ${req.method} ${req.path}; endpoints: ${ENDPOINTS.join(', ')}` });
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = err instanceof HttpError
      ? err.status
      : typeof (err as { status?: unknown })?.status === 'number' && (err as { status: number }).status >= 400 && (err as { status: number }).status < 600
        ? (err as { status: number }).status
        : 500;
    const message = err instanceof Error ? err.message : String(err);
    if (status >= 500) targets.log?.warn({ method: req.method, path: req.path, status, err: message }, 'operator request failed');
    if (res.headersSent) return;
    res.status(status).json({ error: status === 500 ? `internal error: ${message}` : message });
  });
  return app;
}

/**
 * The scheduler's way to start the listener: like startHttpServer, but with `bestEffort` a port already in use
 * is a warning and null, not an error.
 */
export async function startOperatorListener(targets: HttpTargets, opts: HttpListenOptions): Promise<RunningHttp | null> {
  try {
    return await startHttpServer(targets, opts);
  } catch (err) {
    if (opts.bestEffort && err instanceof HttpConfigError && err.code === 'EADDRINUSE') {
      targets.log?.warn({ http: formatBind(opts) }, `${err.message}; running without the operator listener (set --http to choose another address)`);
      return null;
    }
    throw err;
  }
}

function listenError(err: NodeJS.ErrnoException, bind: HttpBind): HttpConfigError {
  const where = `--http ${formatBind(bind)}`;
  return Object.assign(listenMessage(err, where, bind), { code: err.code });
}

function listenMessage(err: NodeJS.ErrnoException, where: string, bind: HttpBind): HttpConfigError {
  switch (err.code) {
    case 'EADDRINUSE': return new HttpConfigError(`${where}: the address is already in use (another dynamite, or another program); pick another port`);
    case 'EADDRNOTAVAIL': return new HttpConfigError(`${where}: ${bind.host} is not an address of this machine`);
    case 'EACCES': return new HttpConfigError(`${where}: permission denied (ports below 1024 need privileges)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return new HttpConfigError(`${where}: cannot resolve host ${bind.host}`);
    default: return new HttpConfigError(`${where}: cannot listen: ${err.message}`);
  }
}

/**
 * Starts the operator listener. Without credentials it refuses any address but loopback (HttpConfigError saying
 * what to set); a port in use or an unknown address is an HttpConfigError too.
 */
export async function startHttpServer(targets: HttpTargets, opts: HttpListenOptions): Promise<RunningHttp> {
  const credentials = opts.credentials === undefined ? credentialsFromEnv() : opts.credentials;
  checkBind(opts, credentials);
  const app = createOperatorApp(targets, credentials, opts.probeTimeoutMs);
  const server = http.createServer(app);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, opts));
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => targets.log?.error({ err: err.message }, 'operator listener error'));
  const address = server.address() as AddressInfo;
  const host = address.address;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  targets.log?.info({ url, board: `${url}${BOARD_PATH}`, auth: credentials !== null }, 'operator HTTP listening');
  return {
    url,
    host,
    port: address.port,
    authenticated: credentials !== null,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
