import { FleetArgumentError } from './errors';

/** Where fleet's API v1 lives: `baseUrl` ends in `/fleet/v1/`; `socketPath` is set for `unix://` endpoints. */
export interface FleetEndpoint {
  /** The endpoint as the client understood it, for logs: `http://127.0.0.1:49153` or `unix:///var/run/fleet.sock`. */
  url: string;
  baseUrl: string;
  /** The path part of baseUrl, used in error messages: `/fleet/v1/`. */
  basePath: string;
  socketPath?: string;
}

const API_SUFFIX = '/fleet/v1';
const EXAMPLES = 'expected e.g. "127.0.0.1:49153", "http://host:port", "https://host:port/fleet/v1" or "unix:///var/run/fleet.sock"';

function invalid(input: string, why: string): FleetArgumentError {
  return new FleetArgumentError(`invalid fleet endpoint ${JSON.stringify(input)}: ${why}; ${EXAMPLES}`);
}

/**
 * Accepts what users write in `FleetAPIEndpoint`: with or without a scheme (http is the default), with or
 * without a trailing `/` or `/fleet/v1`. A path before `/fleet/v1` (a reverse proxy) is kept.
 */
export function parseFleetEndpoint(input: string): FleetEndpoint {
  const raw = input.trim();
  if (raw === '') throw invalid(input, 'it is empty');

  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw invalid(input, 'a unix socket path must be absolute');
    return { url: raw, baseUrl: `http://localhost${API_SUFFIX}/`, basePath: `${API_SUFFIX}/`, socketPath };
  }

  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  // "http:/host" or "ftp:x" look like a scheme without "//"; "host:4001" does not (a port follows the colon).
  if (!hasScheme && /^[a-z][a-z0-9+.-]*:(?!\d)/i.test(raw)) throw invalid(input, 'the scheme must be followed by "//"');
  let url: URL;
  try {
    url = new URL(hasScheme ? raw : `http://${raw}`);
  } catch {
    throw invalid(input, 'it is not a valid host:port or URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(input, `unsupported scheme "${url.protocol.slice(0, -1)}" (use http, https or unix)`);
  }
  if (url.hostname === '') throw invalid(input, 'it has no host');
  if (url.username !== '' || url.password !== '') throw invalid(input, 'fleet has no authentication; remove the credentials');
  if (url.search !== '' || url.hash !== '') throw invalid(input, 'a query or fragment is not allowed');

  let prefix = url.pathname.replace(/\/+$/, '');
  if (prefix.endsWith(API_SUFFIX)) prefix = prefix.slice(0, -API_SUFFIX.length);
  const basePath = `${prefix}${API_SUFFIX}/`;
  return { url: `${url.origin}${prefix}`, baseUrl: `${url.origin}${basePath}`, basePath };
}
