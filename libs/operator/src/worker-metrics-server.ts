import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EngineMetrics } from '@dynamite/engine';

/**
 * A worker's own read-only listener: `GET /metrics` (this process's counters and histograms: samples ingested,
 * decisions, fleet actions and their latency) and `GET /healthz`. Workers started alone (`dynamite worker`) have no
 * other way to show what they did; the scheduler's listener shows only its own process.
 */
export async function startWorkerMetricsServer(metrics: EngineMetrics, bind: { host: string; port: number }): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'application/json', allow: 'GET' }).end(JSON.stringify({ error: 'only GET is supported' }));
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', pid: process.pid }));
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err) })),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no such path: ${path}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = bind.host.includes(':') ? `[${bind.host}]` : bind.host;
  return {
    url: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
