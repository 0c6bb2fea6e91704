import type http from 'node:http';
import type { Cluster } from '../cluster';
import type { FaultInjector } from '../faults';
import type { RequestStats } from '../stats';
import { handleEmulatorApi, isLoopback, type EmulatorControls } from './emulator-api';
import { FleetApi, routeOf } from './fleet-api';
import { goCleanPath, goPathUnescape } from './go-path';
import { parseGoQuery } from './go-query';
import { FLEETD_VERSION, sendError, sendUnavailable } from './responses';

export interface RequestHandlerDeps {
  cluster: Cluster;
  api: FleetApi;
  faults: FaultInjector;
  stats: RequestStats;
  controls: EmulatorControls;
}

/**
 * The node:http request listener: reads the body, then sends /emulator/* to the control API (loopback only)
 * and everything else through stats, the not-ready switch, fault injection, Go's path cleaning and fleet's API.
 */
export function createRequestHandler(deps: RequestHandlerDeps): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        dispatch(deps, req, res, Buffer.concat(chunks));
      } catch (err) {
        if (!res.headersSent) sendError(res, 500);
        else res.destroy();
        deps.cluster.journal.append('_emulator', '', 'emulator', `internal error: ${(err as Error).stack ?? err}`);
      }
    });
  };
}

function dispatch(deps: RequestHandlerDeps, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const method = req.method ?? 'GET';
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQuery = q === -1 ? '' : target.slice(q + 1);
  const path = goPathUnescape(rawPath);
  res.on('finish', () => deps.stats.recordStatus(res.statusCode));
  if (path === null) {
    // Go's server rejects a malformed escape before any handler runs.
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
    res.end('400 Bad Request');
    return;
  }
  const query = parseGoQuery(rawQuery);

  if (path === '/emulator' || path.startsWith('/emulator/')) {
    if (!isLoopback(req.socket.remoteAddress)) {
      const text = JSON.stringify({ error: { code: 403, message: 'the emulator control API only answers loopback clients' } });
      res.writeHead(403, { 'Content-Type': 'application/json' }).end(text);
      return;
    }
    handleEmulatorApi({ method, path, query, body }, res, deps);
    return;
  }

  const { route, unit } = routeOf(path);
  deps.stats.record(method, route, unit);
  if (deps.controls.notReady) return sendUnavailable(res);

  const decision = deps.faults.decide(method, path);
  const proceed = () => {
    if (decision.action === 'drop') { req.socket.destroy(); return; }
    if (decision.action === 'error') { res.setHeader('X-Emulator-Fault', 'error'); return sendError(res, 500); }
    const clean = goCleanPath(path);
    if (clean !== path) return redirect(res, method, encodeURI(clean) + (rawQuery ? `?${rawQuery}` : ''));
    deps.api.handle({ method, path, query, rawHeaders: req.rawHeaders, body }, res);
  };
  if (decision.delayMs > 0) setTimeout(proceed, decision.delayMs);
  else proceed();
}

/** Go ServeMux's 301 for unclean paths (`//`, `/./`, `/../`), as http.Redirect writes it. */
function redirect(res: http.ServerResponse, method: string, location: string): void {
  res.setHeader('Server', `fleetd/${FLEETD_VERSION}`);
  res.setHeader('Location', location);
  if (method === 'GET' || method === 'HEAD') res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.writeHead(301);
  res.end(method === 'GET' ? `<a href="${location.replace(/&/g, '&amp;').replace(/"/g, '&#34;')}">Moved Permanently</a>.\n\n` : undefined);
}
