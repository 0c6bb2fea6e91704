import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { DynamiteConfig } from '@dynamite/domain';
import type { LeadershipStatus } from '@dynamite/engine';
import type { StateStore } from '@dynamite/store';
import { ControlError, pauseService, pauseView, protectInstance, resumeService, unprotectInstance } from '../controls';
import { decisionView } from '../overview';
import type { ReadModel } from '../read-model';
import { TIMELINE_MINUTES } from '../timeline';
import type { OperatorMetrics } from './operator-metrics';

/** An error with the HTTP status to answer and a message meant for the caller. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ApiSources {
  /** Every answer but /healthz comes from here: no request reads etcd, Redis or fleet itself. */
  readModel: ReadModel;
  metrics: OperatorMetrics;
  now: () => number;
  startedAt: number;
  /** The answering scheduler's place in the election; null when it is not a scheduler. */
  leadership: () => LeadershipStatus | null;
  /** Where the operator's controls (pause, protection) are written: the listener's own store. */
  controls: { store: StateStore; config: () => Promise<DynamiteConfig> };
  /** Who sent a request that changes something (the basic-auth user, else the client address). */
  operatorOf: (req: Request) => string;
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

/** The read model could not be refreshed from etcd: 503 (the engine's store is unavailable), not 500. */
async function fromEtcd<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new HttpError(503, `cannot read the engine state from etcd: ${message}`);
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
      const [checks, view] = await Promise.all([src.readModel.readiness(), src.readModel.leaderView().catch(() => null)]);
      const leader = view?.leader ?? null;
      const self = src.leadership();
      const role = self ? { role: self.role, id: self.id } : {};
      const failing = Object.entries(checks).filter(([, c]) => !c.ok);
      if (failing.length === 0) {
        res.json({ ready: true, ...role, leader, checks });
        return;
      }
      const error = `not ready: ${failing.map(([name, c]) => (name === 'watch' ? c.error : `${name} is not reachable (${c.error})`)).join('; ')}`;
      res.status(503).json({ ready: false, error, failing: failing.map(([name]) => name), ...role, leader, checks });
    }))
    .all(methodNotAllowed('GET'));

  router.route('/api/leader')
    .get(wrap(async (_req, res) => {
      res.json(await fromEtcd(() => src.readModel.leaderView()));
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
      const [overview, view] = await fromEtcd(() => Promise.all([src.readModel.overview(decisions), src.readModel.leaderView()]));
      res.json({ ...overview, leader: view.leader });
    }))
    .all(methodNotAllowed('GET'));

  const requireService = async (name: string): Promise<void> => {
    const { known, services } = await fromEtcd(() => src.readModel.knows(name));
    if (!known) throw new HttpError(404, `unknown service ${JSON.stringify(name)}; services: ${services.join(', ') || '(none)'}`);
  };

  router.route('/api/services/:name')
    .get(wrap(async (req, res) => {
      const decisions = intParam(req, 'decisions', OVERVIEW_DECISIONS);
      const name = String(req.params.name);
      await requireService(name);
      const overview = await fromEtcd(() => src.readModel.overview(decisions));
      const service = overview.services.find((s) => s.name === name);
      if (!service) throw new HttpError(404, `service ${JSON.stringify(name)} is an attached service; see its parent in /api/services`);
      res.json({ time: overview.time, fleet: overview.fleet, service });
    }))
    .all(methodNotAllowed('GET'));

  // ---- the operator's controls: pause and resume, scale-in protection ------------------------------------------
  // A change needs a JSON body (Content-Type: application/json, 16 KB at most): a form on another site cannot send
  // one without a CORS preflight, which this listener never grants.
  const jsonBody = express.json({ limit: '16kb', strict: true, type: () => true });
  const requireJson: RequestHandler = (req, _res, next) => {
    if (!req.is('application/json')) return next(new HttpError(415, `${req.method} ${req.path} takes a JSON body: send Content-Type: application/json`));
    next();
  };
  const change = (handler: (req: Request, res: Response, config: DynamiteConfig) => Promise<void>) => wrap(async (req, res) => {
    const config = await fromEtcd(() => src.controls.config());
    try {
      await handler(req, res, config);
    } catch (err) {
      if (err instanceof ControlError) throw new HttpError(err.status, err.message);
      if (err instanceof HttpError) throw err;
      throw new HttpError(503, `cannot write to etcd: ${err instanceof Error ? err.message : String(err)}`);
    }
    src.readModel.invalidate();
  });
  const field = (body: unknown, name: string): string | null => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object');
    const value = (body as Record<string, unknown>)[name];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') throw new HttpError(400, `${name}: must be a string (got ${Array.isArray(value) ? 'a list' : typeof value})`);
    return value;
  };
  const knownFields = (body: unknown, allowed: string[]): void => {
    const extra = Object.keys(body as Record<string, unknown>).filter((k) => !allowed.includes(k));
    if (extra.length > 0) throw new HttpError(400, `unknown field ${JSON.stringify(extra[0])}; fields: ${allowed.join(', ')}`);
  };

  router.route('/api/services/:name/pause')
    .get(wrap(async (req, res) => {
      const name = String(req.params.name);
      await requireService(name);
      const overview = await fromEtcd(() => src.readModel.overview(0));
      res.json({ service: name, paused: overview.services.find((s) => s.name === name)?.paused ?? null });
    }))
    .post(requireJson, jsonBody, change(async (req, res, config) => {
      const name = String(req.params.name);
      const body: unknown = req.body;
      const input = { direction: field(body, 'direction'), reason: field(body, 'reason'), forText: field(body, 'for') };
      knownFields(body, ['direction', 'reason', 'for']);
      const record = await pauseService(src.controls.store, config, name, { ...input, by: src.operatorOf(req), now: src.now() });
      res.json({ service: name, paused: pauseView(record, src.now()) });
    }))
    .delete(change(async (req, res, config) => {
      const name = String(req.params.name);
      res.json({ service: name, resumed: await resumeService(src.controls.store, config, name) });
    }))
    .all(methodNotAllowed('GET, POST, DELETE'));

  router.route('/api/services/:name/instances/:instance/protection')
    .post(requireJson, jsonBody, change(async (req, res, config) => {
      const [name, instance] = [String(req.params.name), String(req.params.instance)];
      const body: unknown = req.body;
      const reason = field(body, 'reason');
      knownFields(body, ['reason']);
      const record = await protectInstance(src.controls.store, config, name, instance, { reason, by: src.operatorOf(req), now: src.now() });
      res.json({ service: name, instance, protected: true, reason: record.reason, by: record.by, since: new Date(record.at).toISOString() });
    }))
    .delete(change(async (req, res, config) => {
      const [name, instance] = [String(req.params.name), String(req.params.instance)];
      res.json({ service: name, instance, unprotected: await unprotectInstance(src.controls.store, config, name, instance) });
    }))
    .all(methodNotAllowed('POST, DELETE'));

  router.route('/api/services/:name/decisions')
    .get(wrap(async (req, res) => {
      const limit = intParam(req, 'limit', DECISIONS_LIMIT);
      const name = String(req.params.name);
      await requireService(name);
      const records = await fromEtcd(() => src.readModel.decisionsOf(name, limit));
      res.json({ service: name, limit, count: records.length, decisions: records.map(decisionView) });
    }))
    .all(methodNotAllowed('GET'));

  router.route('/api/services/:name/timeline')
    .get(wrap(async (req, res) => {
      const minutes = intParam(req, 'minutes', TIMELINE_MINUTES);
      const name = String(req.params.name);
      await requireService(name);
      const timeline = await fromEtcd(() => src.readModel.timeline(name, minutes));
      if (!timeline) throw new HttpError(404, `service ${JSON.stringify(name)} is an attached service; see its parent in /api/services`);
      res.json(timeline);
    }))
    .all(methodNotAllowed('GET'));

  return router;
}
