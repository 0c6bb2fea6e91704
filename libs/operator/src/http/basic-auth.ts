import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { HttpCredentials } from './bind';

const REALM = 'Basic realm="dynamite", charset="UTF-8"';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Checks an `Authorization: Basic ...` header against the credentials. Both halves are compared as SHA-256 digests
 * (equal length) with timingSafeEqual, and both comparisons always run, so the answer takes the same time whatever
 * part is wrong.
 */
export function credentialsMatch(header: string | undefined, expected: HttpCredentials): boolean {
  const match = /^Basic +([A-Za-z0-9+/=._~-]+) *$/i.exec(header ?? '');
  let user = '';
  let password = '';
  let wellFormed = false;
  if (match) {
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      user = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
      wellFormed = true;
    }
  }
  const userOk = timingSafeEqual(digest(user), digest(expected.user));
  const passwordOk = timingSafeEqual(digest(password), digest(expected.password));
  return wellFormed && userOk && passwordOk;
}

/** The user named by an `Authorization: Basic ...` header (checked by `basicAuth` before), or null. */
export function basicAuthUser(header: string | undefined): string | null {
  const match = /^Basic +([A-Za-z0-9+/=._~-]+) *$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : null;
}

/** 401 with the challenge and nothing else: no body, no hint of what was wrong. */
export function sendUnauthorized(res: Response): void {
  res.status(401).set('WWW-Authenticate', REALM).set('Cache-Control', 'no-store').end();
}

/** Middleware: lets a request through when `protect(req)` is false or its credentials match. */
export function basicAuth(credentials: HttpCredentials | null, protect: (req: Request) => boolean): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (credentials === null || !protect(req)) return next();
    if (credentialsMatch(req.headers.authorization, credentials)) return next();
    sendUnauthorized(res);
  };
}
