import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { DecisionRecord, DynamiteConfig } from '@dynamite/domain';
import type { LeadershipStatus } from '@dynamite/engine';
import type { StateStore } from '@dynamite/store';
import { buildOverview, decisionView, listServiceNames, serviceExists } from '../overview';
import { readLeaderView, type LeaderView } from '../leadership-view';
import type { OperatorMetrics } from './operator-metrics';
import { withDeadline, type Probes } from './probes';

/** An error with the HTTP status to answer and a message meant for the caller. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ApiSources {
  store: StateStore;
  config: () => Promise<DynamiteConfig>;
  probes: Probes;
  metrics: OperatorMetrics;
  now: () => number;
  timeoutMs: number;
  startedAt: number;
  /** The answering scheduler's place in the election; null when it is not a scheduler. */
  leadership: () => LeadershipStatus | null;
}

export const DECISIONS_LIMIT = { min: 1, max: 1000, default: 50 } as const;
export const OVERVIEW_DECISIONS = { min: 0, max: 100, default: 5 } as const;

/** An integer query parameter within bounds, or a 400 naming the parameter. */
export function intParam(req: Request, name: string, bounds: { min: number; max: number; default: number }): number {
  const raw = req.query[name];
  if (raw === undefined) return bounds.default;
  const text = Array.isArray(raw) ? null : String(raw);
  if (text === null || !/^\d{1,7}$/.test(text) || Number(text) < bounds.min || Number(text) > bounds.max) {
    const shown = Array.isArray(raw) ? `${raw.length} values` : JSON.stringify(String(raw));
    throw new HttpError(400, `query parameter "${name}" must be an integer from ${bounds.min} to ${bounds.max} (got ${shown})`);
  }
  return Number(text);
}

const wrap = (handler: (req: Request, res: Response) => Promise<void>): RequestHandler =>
  (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next);
  };

export function methodNotAllowed(allowed: string): RequestHandler {
  return (req: Request, res: Response) => {
    res.status(405).set('Allow', allowed).json({ error: `${req.method} ${req.path} is not allowed; use ${allowed}` });
  };
}

/** Reads from etcd fail as 503 (the engine's store is unavailable), not as 500. */
async function fromEtcd<T>(src: ApiSources, work: () => Promise<T>): Promise<T> {
  try {
    return await withDeadline(work(), src.timeoutMs * 2, 'etcd');
  } catch (err) {
    if (err instanceof HttpError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new HttpError(503, `cannot read the engine state from etcd: ${message}`);
  }
}

/** The leader as etcd says it (null when none runs, or etcd does not answer: the probes report that). */
async function readLeader(src: ApiSources): Promise<LeaderView['leader']> {
  try {
    return (await withDeadline(readLeaderView(src.store.etcd, null), src.timeoutMs, 'etcd')).leader;
  } catch {
    return null;
  }
}

export function createApiRouter(src: ApiSources): Router {
  const router = Router();

  router.route('/healthz')
    .get((_req, res) => {
      res.json({ status: 'ok', pid: process.pid, uptimeSeconds: Math.round((src.now() - src.startedAt) / 1000) });
    })
    .all(methodNotAllowed('GET'));

  // A standby is ready (200): it serves the board and the read-only API like the leader, so a load balancer in front
  // of the schedulers may send requests to any of them. `role` and `leader` say who does the scheduling.
  router.route('/readyz')
    .get(wrap(async (_req, res) => {
      const [checks, leader] = await Promise.all([src.probes.all(), readLeader(src)]);
      const self = src.leadership();
      const role = self ? { role: self.role, id: self.id } : {};
      const failing = Object.entries(checks).filter(([, c]) => !c.ok);
      if (failing.length === 0) {
        res.json({ ready: true, ...role, leader, checks });
        return;
      }
      const error = `not ready: ${failing.map(([name, c]) => `${name} is not reachable (${c.error})`).join('; ')}`;
      res.status(503).json({ ready: false, error, failing: failing.map(([name]) => name), ...role, leader, checks });
    }))
    .all(methodNotAllowed('GET'));

  router.route('/api/leader')
    .get(wrap(async (_req, res) => {
      res.json(await fromEtcd(src, () => readLeaderView(src.store.etcd, src.leadership())));
    }))
    .all(methodNotAllowed('GET'));

  router.route('/metrics')
    .get(wrap(async (_req, res) => {
      const text = await src.metrics.render();
      res.set('Content-Type', src.metrics.contentType).send(text);
    }))
    .all(methodNotAllowed('GET'));

  router.route('/api/services')
    .get(wrap(async (req, res) => {
      const decisions = intParam(req, 'decisions', OVERVIEW_DECISIONS);
      const fleet = await src.probes.fleetUnits();
      const overview = await fromEtcd(src, async () => buildOverview(src.store, await src.config(), { now: src.now(), decisions, fleet }));
      res.json({ ...overview, leader: await readLeader(src) });
    }))
    .all(methodNotAllowed('GET'));

  const requireService = async (name: string): Promise<DynamiteConfig> => {
    const config = await fromEtcd(src, () => src.config());
    if (!(await fromEtcd(src, () => serviceExists(src.store, config, name)))) {
      const known = (await fromEtcd(src, () => listServiceNames(src.store, config))).map((s) => s.name);
      throw new HttpError(404, `unknown service ${JSON.stringify(name)}; services: ${known.join(', ') || '(none)'}`);
    }
    return config;
  };

  router.route('/api/services/:name')
    .get(wrap(async (req, res) => {
      const decisions = intParam(req, 'decisions', OVERVIEW_DECISIONS);
      const name = String(req.params.name);
      const config = await requireService(name);
      const fleet = await src.probes.fleetUnits();
      const overview = await fromEtcd(src, () => buildOverview(src.store, config, { now: src.now(), decisions, fleet, only: name }));
      const service = overview.services[0];
      if (!service) throw new HttpError(404, `service ${JSON.stringify(name)} is an attached service; see its parent in /api/services`);
      res.json({ time: overview.time, fleet: overview.fleet, service });
    }))
    .all(methodNotAllowed('GET'));

  router.route('/api/services/:name/decisions')
    .get(wrap(async (req, res) => {
      const limit = intParam(req, 'limit', DECISIONS_LIMIT);
      const name = String(req.params.name);
      await requireService(name);
      const records = await fromEtcd(src, () => src.store.listDecisions<DecisionRecord>(name, limit));
      res.json({ service: name, limit, count: records.length, decisions: records.map(decisionView) });
    }))
    .all(methodNotAllowed('GET'));

  return router;
}
