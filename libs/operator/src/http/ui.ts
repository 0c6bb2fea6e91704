import fs from 'node:fs';
import path from 'node:path';
import { Router, type Response } from 'express';
import { UI_ASSETS, UI_CSS, UI_HTML, UI_PATH } from '../ui/page';
import { methodNotAllowed } from './api';

/**
 * Only this listener's own files and API: no script, style, font or connection anywhere else (the page must work
 * on an operator network without internet, and nothing injected into the data can load or send anything).
 */
const UI_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** A file the page loads, read once at start: the compiled client and uPlot from node_modules (never a CDN). */
function asset(file: string, type: string): { body: Buffer; type: string } {
  return { body: fs.readFileSync(file), type };
}

/** `/ui`: the service list and one page per service (`/ui/services/:name`), drawn by the client from `/api`. */
export function createUiRouter(): Router {
  const files: Record<string, { body: Buffer; type: string }> = {
    [UI_ASSETS.client]: asset(path.join(__dirname, '..', 'ui', 'client.mjs'), 'text/javascript; charset=utf-8'),
    [UI_ASSETS.style]: { body: Buffer.from(UI_CSS, 'utf8'), type: 'text/css; charset=utf-8' },
    [UI_ASSETS.uplotScript]: asset(require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'),
    [UI_ASSETS.uplotStyle]: asset(require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'),
  };
  const send = (res: Response, body: Buffer | string, type: string) => {
    res.set({ 'Content-Type': type, 'Content-Security-Policy': UI_CSP }).send(body);
  };
  const router = Router();
  for (const [file, { body, type }] of Object.entries(files)) {
    router.route(file).get((_req, res) => send(res, body, type)).all(methodNotAllowed('GET'));
  }
  router.route([UI_PATH, `${UI_PATH}/services/:name`])
    .get((_req, res) => send(res, UI_HTML, 'text/html; charset=utf-8'))
    .all(methodNotAllowed('GET'));
  return router;
}
