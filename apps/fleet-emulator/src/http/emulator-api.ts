import type http from 'node:http';
import type { Cluster } from '../cluster';
import type { FaultInjector } from '../faults';
import type { RequestStats } from '../stats';
import { goJsonStringify } from './go-json';
import { isLoopbackAddress } from './loopback';

/** Switches the HTTP layer reads; owned by the server. */
export interface EmulatorControls {
  notReady: boolean;
}

/** Is the peer on loopback (or a unix socket)? The control API answers nobody else. */
export function isLoopback(socketAddress: string | undefined): boolean {
  return socketAddress === undefined || isLoopbackAddress(socketAddress);
}

function reply(res: http.ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) { res.writeHead(status); res.end(); return; }
  const text = goJsonStringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function error(res: http.ServerResponse, status: number, message: string): void {
  reply(res, status, { error: { code: status, message } });
}

/**
 * The emulator's own control API under /emulator (not part of fleet): fault injection, the not-ready
 * switch, request statistics, the history of unit changes, waiting for reconcile passes, and per-unit journals and
 * process ids.
 */
export function handleEmulatorApi(
  req: { method: string; path: string; query: Map<string, string[]>; body: Buffer },
  res: http.ServerResponse,
  deps: { cluster: Cluster; faults: FaultInjector; stats: RequestStats; controls: EmulatorControls },
): void {
  const { method, path } = req;
  const parseBody = (): unknown | undefined => {
    const text = req.body.toString('utf8').trim();
    if (text === '') return {};
    try {
      return JSON.parse(text);
    } catch (err) {
      error(res, 400, `body is not valid JSON: ${(err as Error).message}`);
      return undefined;
    }
  };

  if (path === '/emulator/faults') {
    if (method === 'GET') return reply(res, 200, deps.faults.current());
    if (method === 'DELETE') { deps.faults.clear(); return reply(res, 204); }
    if (method === 'POST' || method === 'PUT') {
      const body = parseBody();
      if (body === undefined) return;
      const problem = deps.faults.set(body);
      if (problem) return error(res, 400, problem);
      return reply(res, 200, deps.faults.current());
    }
    return error(res, 405, 'only GET, POST and DELETE supported against this resource');
  }
  if (path === '/emulator/not-ready') {
    if (method === 'GET') return reply(res, 200, { notReady: deps.controls.notReady });
    if (method === 'POST') { deps.controls.notReady = true; return reply(res, 204); }
    if (method === 'DELETE') { deps.controls.notReady = false; return reply(res, 204); }
    return error(res, 405, 'only GET, POST and DELETE supported against this resource');
  }
  if (path === '/emulator/stats') {
    if (method === 'GET') return reply(res, 200, deps.stats.snapshot());
    if (method === 'DELETE') { deps.stats.reset(); return reply(res, 204); }
    return error(res, 405, 'only GET and DELETE supported against this resource');
  }
  if (path === '/emulator/history') {
    if (method !== 'GET') return error(res, 405, 'only GET supported against this resource');
    const after = Number(req.query.get('after')?.[0] ?? '0');
    if (!Number.isSafeInteger(after) || after < 0) return error(res, 400, 'after must be a non-negative integer');
    return reply(res, 200, deps.cluster.registry.history.after(after));
  }
  if (path === '/emulator/passes') {
    if (method !== 'GET') return error(res, 405, 'only GET supported against this resource');
    return reply(res, 200, { completed: deps.cluster.passes, waiting: deps.cluster.passWaiterCount, agentLagMs: deps.cluster.agentLagMs });
  }
  if (path === '/emulator/passes/wait') {
    if (method !== 'POST') return error(res, 405, 'only POST supported against this resource');
    const body = parseBody();
    if (body === undefined) return;
    const count = (body as { count?: unknown } | null)?.count ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 1000) return error(res, 400, 'count must be an integer between 1 and 1000');
    deps.cluster.waitForPasses(count).then(
      (completed) => reply(res, 200, { completed }),
      (err: Error) => { if (!res.headersSent) error(res, 503, err.message); },
    );
    return;
  }
  const unitMatch = /^\/emulator\/units\/([^/]+)(\/journal)?$/.exec(path);
  if (unitMatch) {
    if (method !== 'GET') return error(res, 405, 'only GET supported against this resource');
    const name = unitMatch[1];
    if (unitMatch[2]) {
      const linesParam = req.query.get('lines')?.[0];
      const limit = linesParam === undefined ? undefined : Number(linesParam);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) return error(res, 400, 'lines must be a non-negative integer');
      const entries = deps.cluster.journal.lines(name, limit);
      if (req.query.get('format')?.[0] === 'text') {
        const text = entries.map((e) => `${e.time} ${e.machineID.slice(0, 8)} ${e.stream}: ${e.message}\n`).join('');
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      return reply(res, 200, { unit: name, entries });
    }
    const states = deps.cluster.unitStates(name).map((s) => ({ ...s, pid: deps.cluster.mainPid(name, s.machineID) }));
    const unit = deps.cluster.registry.units.get(name);
    if (!unit && states.length === 0) return error(res, 404, 'unit does not exist');
    return reply(res, 200, { name, desiredState: unit?.desiredState, currentState: unit ? deps.cluster.currentState(name) : undefined, hash: unit?.hash, machines: states });
  }
  return error(res, 404, `no such emulator resource: ${path}`);
}
