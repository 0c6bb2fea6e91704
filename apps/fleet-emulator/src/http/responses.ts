import type http from 'node:http';
import { goJsonStringify } from './go-json';

/** fleetd's version string, sent as `Server: fleetd/<version>` on every API response. */
export const FLEETD_VERSION = '1.0.0';

function serverHeader(res: http.ServerResponse): void {
  res.setHeader('Server', `fleetd/${FLEETD_VERSION}`);
}

/** 200 with a compact JSON body and `Content-Type: application/json` (no charset), like sendResponse. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  sendRawJson(res, status, goJsonStringify(body));
}

export function sendRawJson(res: http.ServerResponse, status: number, text: string): void {
  serverHeader(res);
  const bytes = Buffer.from(text, 'utf8');
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
  res.end(bytes);
}

/** fleet's sendError: `{"error":{"code":N,"message":"..."}}`; message "" for routing errors and 500s. */
export function sendError(res: http.ServerResponse, status: number, message = ''): void {
  sendJson(res, status, { error: { code: status, message } });
}

/** 201 from PUT /units: no Content-Type, empty body (Go sets Content-Length: 0). */
export function sendCreated(res: http.ServerResponse): void {
  serverHeader(res);
  res.writeHead(201, { 'Content-Length': 0 });
  res.end();
}

/** 204 from PUT/DELETE /units: no Content-Type, empty body, no Content-Length. */
export function sendNoContent(res: http.ServerResponse, withJsonContentType = false): void {
  serverHeader(res);
  res.writeHead(204, withJsonContentType ? { 'Content-Type': 'application/json' } : {});
  res.end();
}

/** The 503 of fleetd's outer handler before it reaches etcd: no Server header. */
export function sendUnavailable(res: http.ServerResponse): void {
  const bytes = Buffer.from(goJsonStringify({ error: { code: 503, message: 'fleet server unable to communicate with etcd' } }));
  res.writeHead(503, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
  res.end(bytes);
}
