import { credentialsFromEnv, HttpConfigError, type HttpCredentials } from '@dynamite/operator';
import { DemoError } from './net';

/**
 * The scheduler's operator listener (`--http`) as the demo shows it: Bull Board, the `/ui` page (the list and the
 * demo service's page) and the API the demo's operator resumes through, with the credentials the scheduler takes
 * from DYNAMITE_HTTP_USER / DYNAMITE_HTTP_PASSWORD when the environment sets them (it inherits the demo's).
 */
export interface OperatorListener {
  /** `http://127.0.0.1:<port>` */
  base: string;
  boardUrl: string;
  uiUrl: string;
  /** The demo service's page, `/ui/services/<name>`. */
  serviceUrl: string;
  /** The service's pause, `/api/services/<name>/pause`. */
  pauseUrl: string;
  credentials: HttpCredentials | null;
}

/** The credentials the scheduler will take from the environment; ones it would refuse are a DemoError (exit 2). */
export function listenerCredentials(env: NodeJS.ProcessEnv = process.env): HttpCredentials | null {
  try {
    return credentialsFromEnv(env);
  } catch (err) {
    if (err instanceof HttpConfigError) throw new DemoError(`the scheduler's listener would refuse to start: ${err.message}`, 2);
    throw err;
  }
}

/** The listener on 127.0.0.1:`port`, as shown for `service`. */
export function operatorListener(port: number, service: string, credentials: HttpCredentials | null): OperatorListener {
  const base = `http://127.0.0.1:${port}`;
  const name = encodeURIComponent(service);
  return {
    base,
    boardUrl: `${base}/admin/queues`,
    uiUrl: `${base}/ui`,
    serviceUrl: `${base}/ui/services/${name}`,
    pauseUrl: `${base}/api/services/${name}/pause`,
    credentials,
  };
}

/** How to log in, for the lines that print the URLs: the user, never the password. */
export function credentialsNote(l: OperatorListener): string {
  return l.credentials === null ? '' : ` (basic auth: user ${l.credentials.user}, the password in DYNAMITE_HTTP_PASSWORD)`;
}

/** The lines printed at start (and with --keep): where to look. */
export function listenerLines(l: OperatorListener): string[] {
  return [
    `  Bull Board: ${l.boardUrl}${credentialsNote(l)}`,
    `  page: ${l.serviceUrl} (all services: ${l.uiUrl})${credentialsNote(l)}`,
  ];
}

/** The Authorization header for the listener, when it has credentials. */
export function authHeader(l: OperatorListener): Record<string, string> {
  if (l.credentials === null) return {};
  return { authorization: `Basic ${Buffer.from(`${l.credentials.user}:${l.credentials.password}`).toString('base64')}` };
}
