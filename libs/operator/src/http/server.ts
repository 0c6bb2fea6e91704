import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ConfigSource, recordRejectionSink, type EngineContext, type LeadershipStatus, type Logger } from '@dynamite/engine';
import { JobQueues, createRedisConnection } from '@dynamite/queues';
import { StateStore, createEtcdClient, type EtcdConnectionOptions } from '@dynamite/store';
import { ReadModel } from '../read-model';
import { createApiRouter, HttpError } from './api';
import { basicAuth, basicAuthUser } from './basic-auth';
import { checkBind, credentialsFromEnv, formatBind, publicReadsFromEnv, type HttpBind, type HttpCredentials } from './bind';
import { BOARD_PATH, createBoardRouter } from './board';
import { HttpConfigError } from './errors';
import { OperatorMetrics } from './operator-metrics';
import { Probes, type WatchHandle } from './probes';
import { createUiRouter } from './ui';

export interface HttpListenOptions extends HttpBind {
  /** Basic-auth credentials; undefined reads DYNAMITE_HTTP_USER / DYNAMITE_HTTP_PASSWORD, null means none. */
  credentials?: HttpCredentials | null;
  /**
   * With credentials, let GET and HEAD of the read endpoints (`/metrics`, `/api/...`, `/`) through without them
   * (`--http_public_reads`); the board and every change still need them. Undefined reads DYNAMITE_HTTP_PUBLIC_READS.
   */
  publicReads?: boolean;
  /** Deadline of each probe of Redis, etcd and fleet (ms, default 2000). */
  probeTimeoutMs?: number;
  /** How old an answer of the read model (API, /metrics, /readyz) may be (ms, default 1000). */
  readMaxAgeMs?: number;
  /**
   * The address is the default rather than one the user asked for: when it is already in use (a second engine
   * process on the machine), log a warning and run without the listener instead of failing.
   */
  bestEffort?: boolean;
}

/**
 * What the listener shows: the scheduler's engine context (its metrics, fleet endpoint, clock and queue prefix) and
 * sample watch. It reads etcd and Redis through connections of its own, opened from `etcd` and `redisUrl`, so no
 * number of requests slows down or trips the engine's clients.
 */
export interface HttpTargets {
  ctx: EngineContext;
  etcd: EtcdConnectionOptions;
  redisUrl: string;
  watch?: WatchHandle | null;
  log?: Logger;
  /** The scheduler's place in the election (leader or standby); absent: not a scheduler. */
  leadership?: { status(): LeadershipStatus } | null;
}

export interface RunningHttp {
  url: string;
  host: string;
  port: number;
  /** Whether basic auth protects the listener. */
  authenticated: boolean;
  close(): Promise<void>;
}

const ENDPOINTS = [
  'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /api/leader', 'GET /api/services', 'GET /api/services/:name',
  'GET /api/services/:name/decisions?limit=N', 'GET /api/services/:name/timeline?minutes=N', 'GET|POST|DELETE /api/services/:name/pause',
  'POST|DELETE /api/services/:name/instances/:instance/protection', `GET ${BOARD_PATH} (Bull Board)`,
  'GET /ui (services and their last minutes, in a browser)',
];

/** Probes: answered without credentials, always. */
const PROBES = new Set(['/healthz', '/readyz']);
/** Reads opened by `publicReads`. */
const READS = /^\/(metrics|api(\/.*)?)?$/;

/** The path as express routes it (case-insensitive, one trailing slash optional). */
function routedPath(req: Request): string {
  const path = req.path.toLowerCase();
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Which requests go through without credentials: the probes, and the reads when they are public. Nothing else. */
export function isOpenRequest(req: Request, publicReads: boolean): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = routedPath(req);
  return PROBES.has(path) || (publicReads && READS.test(path));
}

/**
 * Headers on every answer: no MIME sniffing, never in a frame, no referrer, and nothing cached but the board's
 * static assets (answers carry the cluster's state, some behind credentials).
 */
function securityHeaders(req: Request, res: Response, next: NextFunction): void {
  res.set({
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': "frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
  });
  if (!routedPath(req).startsWith(`${BOARD_PATH}/static/`)) res.set('Cache-Control', 'no-store');
  next();
}

/** The listener's own connections: an etcd client, a Redis connection and the queues on it. */
export interface OperatorConnections {
  store: StateStore;
  queues: JobQueues;
  close(): Promise<void>;
}

export function openOperatorConnections(targets: HttpTargets, timeoutMs: number): OperatorConnections {
  const log = targets.log ?? targets.ctx.log;
  const store = new StateStore(createEtcdClient({ ...targets.etcd, callTimeoutMs: timeoutMs * 2 }), recordRejectionSink(targets.ctx.metrics, log));
  const redis = createRedisConnection(targets.redisUrl);
  // Without a listener, a Redis that went away would be an unhandled 'error' event; the probes report it.
  redis.on('error', () => undefined);
  const queues = new JobQueues(redis, targets.ctx.jobs.jobQueues.prefix);
  return {
    store,
    queues,
    async close() {
      await queues.close().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
      store.etcd.close();
    },
  };
}

/** The express app: health, readiness, metrics, the JSON API and Bull Board, with basic auth where it matters. */
export function createOperatorApp(
  targets: HttpTargets,
  connections: OperatorConnections,
  opts: { credentials: HttpCredentials | null; publicReads?: boolean; probeTimeoutMs?: number; readMaxAgeMs?: number },
): express.Express {
  const { ctx } = targets;
  const { store, queues } = connections;
  const timeoutMs = opts.probeTimeoutMs ?? 2_000;
  const maxAgeMs = opts.readMaxAgeMs ?? 1_000;
  const now = () => ctx.clock.now();
  // A revision check per refresh (at most one a second): no watch to keep on the listener's own client.
  const config = new ConfigSource(store, { watch: false });
  const probes = new Probes({ redis: queues.connection, store, fleet: () => ctx.fleet, watch: targets.watch, timeoutMs });
  const readModel = new ReadModel({ store, config: () => config.current(), probes, now, maxAgeMs, timeoutMs, leadership: () => targets.leadership?.status() ?? null });
  const metrics = new OperatorMetrics({
    metrics: ctx.metrics,
    store,
    queues: queues.all(),
    readModel,
    watchRevision: () => targets.watch?.revision ?? null,
    watchPrefix: () => targets.watch?.prefix ?? null,
    leadership: () => targets.leadership?.status() ?? null,
    timeoutMs,
    maxAgeMs,
  });
  const { credentials } = opts;
  const publicReads = opts.publicReads === true;

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(securityHeaders);
  // With credentials, everything needs them but the probes (and the reads, when opened): deny by default.
  app.use(basicAuth(credentials, (req) => !isOpenRequest(req, publicReads)));
  app.use(createApiRouter({
    readModel, metrics, now, startedAt: now(), leadership: () => targets.leadership?.status() ?? null,
    controls: { store, config: () => config.current() },
    // Checked by basicAuth when credentials are set; without them the listener is on loopback only.
    operatorOf: (req) => (credentials !== null ? basicAuthUser(req.headers.authorization) : null) ?? `http@${req.socket.remoteAddress ?? 'unknown'}`,
  }));
  app.use(BOARD_PATH, createBoardRouter(queues.all()));
  app.use(createUiRouter());
  app.get('/', (_req, res) => {
    const auth = credentials === null ? 'none (loopback only)' : publicReads ? 'basic (board and changes; reads are public)' : 'basic (all but /healthz and /readyz)';
    res.json({ name: 'dynamite', endpoints: ENDPOINTS, auth });
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
  const publicReads = opts.publicReads ?? publicReadsFromEnv();
  const connections = openOperatorConnections(targets, opts.probeTimeoutMs ?? 2_000);
  const app = createOperatorApp(targets, connections, { credentials, publicReads, probeTimeoutMs: opts.probeTimeoutMs, readMaxAgeMs: opts.readMaxAgeMs });
  const server = http.createServer(app);
  server.keepAliveTimeout = 5_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, opts));
      server.once('error', onError);
      server.listen(opts.port, opts.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
  } catch (err) {
    await connections.close();
    throw err;
  }
  server.on('error', (err) => targets.log?.error({ err: err.message }, 'operator listener error'));
  const address = server.address() as AddressInfo;
  const host = address.address;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  targets.log?.info({ url, board: `${url}${BOARD_PATH}`, auth: credentials !== null, publicReads }, 'operator HTTP listening');
  return {
    url,
    host,
    port: address.port,
    authenticated: credentials !== null,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await connections.close();
    },
  };
}
