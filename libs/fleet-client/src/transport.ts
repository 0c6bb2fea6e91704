/**
 * One HTTP exchange with fleet, no retries: a 2xx becomes `{ status, body }`, an error status a FleetApiError,
 * and no answer at all a FleetNetworkError. Built on axios with the node http adapter.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import type { FleetEndpoint } from './endpoint';
import { FleetApiError, FleetNetworkError, type FleetNetworkErrorKind } from './errors';
import { decodeErrorBody } from './wire';

export type HttpMethod = 'GET' | 'PUT' | 'DELETE' | 'PATCH';

export interface FleetRequest {
  method: HttpMethod;
  /** Relative to the API base and already encoded, e.g. `units/web%408080.service?nextPageToken=AgACAA%3D%3D`. */
  path: string;
  body?: unknown;
}

export interface FleetResponse {
  status: number;
  /** Parsed JSON, or undefined for an empty body (201/204). */
  body: unknown;
}

export class FleetTransport {
  private readonly http: AxiosInstance;
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(private readonly endpoint: FleetEndpoint) {
    this.agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
    this.http = axios.create({
      baseURL: endpoint.baseUrl,
      adapter: 'http',
      socketPath: endpoint.socketPath,
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
      // fleet lives inside the cluster; an HTTP_PROXY meant for the internet must not capture it.
      proxy: false,
      // fleet never redirects API calls; a redirect means a wrong endpoint and is reported, not followed.
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      headers: { 'User-Agent': 'dynamite-fleet-client' },
    });
  }

  /** The request path as it appears in messages: `/fleet/v1/units/web%408080.service`. */
  displayPath(path: string): string {
    return `${this.endpoint.basePath}${path}`;
  }

  async send(request: FleetRequest, timeoutMs: number): Promise<FleetResponse> {
    const path = this.displayPath(request.path);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const response = await this.http.request<string>({
        method: request.method,
        url: request.path,
        data: request.body === undefined ? undefined : JSON.stringify(request.body),
        // Only PUT is checked by fleet, which wants exactly one Content-Type of application/json.
        headers: request.body === undefined ? {} : { 'Content-Type': 'application/json' },
        signal: abort.signal,
      });
      const text = typeof response.data === 'string' ? response.data : '';
      if (response.status >= 200 && response.status < 300) {
        return { status: response.status, body: parseBody(text, request.method, path, response.status) };
      }
      const error = decodeErrorBody(text, response.status);
      throw new FleetApiError({ status: response.status, code: error.code, fleetMessage: error.message, method: request.method, path });
    } catch (err) {
      if (err instanceof FleetApiError) throw err;
      if (abort.signal.aborted) {
        throw new FleetNetworkError({ kind: 'timeout', method: request.method, path, detail: `no response within ${timeoutMs} ms from ${this.endpoint.url}`, cause: err });
      }
      throw toNetworkError(err, request.method, path, this.endpoint.url);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

function parseBody(text: string, method: string, path: string, status: number): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new FleetApiError({ status, fleetMessage: `response is not JSON: ${text.slice(0, 100)}`, method, path, retryable: false });
  }
}

const KINDS: Record<string, FleetNetworkErrorKind> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ETIMEDOUT: 'timeout',
  ECONNABORTED: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ENOTFOUND: 'unreachable',
  EAI_AGAIN: 'unreachable',
  ENOENT: 'refused', // a unix socket that does not exist
};

function toNetworkError(err: unknown, method: string, path: string, endpointUrl: string): FleetNetworkError {
  const code = err instanceof AxiosError ? err.code ?? '' : '';
  const kind = KINDS[code] ?? 'other';
  const reason = err instanceof Error ? err.message : String(err);
  const detail = { refused: 'connection refused', reset: 'connection dropped', timeout: 'timed out', unreachable: 'host unreachable', other: 'request failed' }[kind];
  return new FleetNetworkError({ kind, method, path, detail: `${detail} (${endpointUrl}: ${code || reason})`, cause: err });
}
