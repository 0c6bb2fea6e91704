import { createHash } from 'node:crypto';
import http from 'node:http';
import { exitWithParent, parsePort, readRuntime } from './runtime';

/**
 * The demo's web server: one instance per port (`webserver@%i.service` runs `webserver.js <runtime.json> %i`).
 *
 * Each instance models a server with one slow core: requests wait in line, and each holds the core for `costMs`,
 * of which `workMs` is real CPU work (hashing) and the rest a timer. That keeps the demo's real CPU use small on
 * a two-core machine while the instance saturates, queues and sheds load like a real one. `GET /_stats` reports
 * the time the core was busy so far; the discovery agent turns it into the `cpu_user` metric (busy percent).
 */

const runtime = readRuntime(process.argv[2]);
const port = parsePort(process.argv[3]);
const name = `${runtime.unitPrefix}@${port}.service`;

interface Pending {
  res: http.ServerResponse;
  queuedAt: number;
}

const queue: Pending[] = [];
let busySince: number | null = null;
let busyMsDone = 0;
let served = 0;
let rejected = 0;
const payload = Buffer.alloc(256, port % 251);

function realWork(ms: number): void {
  const until = performance.now() + ms;
  let digest: Buffer = payload;
  while (performance.now() < until) digest = createHash('sha256').update(digest).digest();
}

function pump(): void {
  if (busySince !== null) return;
  const job = queue.shift();
  if (!job) return;
  const start = performance.now();
  busySince = start;
  realWork(Math.min(runtime.workMs, runtime.costMs));
  const left = runtime.costMs - (performance.now() - start);
  setTimeout(() => {
    busyMsDone += performance.now() - start;
    busySince = null;
    served += 1;
    if (!job.res.destroyed) {
      job.res.writeHead(200, { 'content-type': 'text/plain' });
      job.res.end(`${name} served request ${served} (waited ${Math.round(start - job.queuedAt)} ms)\n`);
    }
    pump();
  }, Math.max(0, left));
}

const server = http.createServer((req, res) => {
  if (req.url === '/_stats') {
    const busyMs = busyMsDone + (busySince === null ? 0 : performance.now() - busySince);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name, busyMs, served, rejected, queued: queue.length, uptimeMs: performance.now() }));
    return;
  }
  if (queue.length >= runtime.maxQueue) {
    rejected += 1;
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
    res.end(`${name} is saturated\n`);
    return;
  }
  queue.push({ res, queuedAt: performance.now() });
  pump();
});
server.keepAliveTimeout = 5000;

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${name} listening on http://127.0.0.1:${port}\n`);
});
server.on('error', (err) => {
  process.stderr.write(`${name}: ${err.message}\n`);
  process.exit(1);
});

function stop(): void {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
exitWithParent(runtime.parentPid, () => undefined);
