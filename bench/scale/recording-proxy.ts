import http from 'node:http';

/** An HTTP proxy in front of the emulator that notes when fleet first received a PUT of each unit. */
export async function startRecordingProxy(target: string): Promise<{ url: string; firstPut: Map<string, number>; close(): void }> {
  const firstPut = new Map<string, number>();
  const upstreamUrl = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const proxy = http.createServer((req, res) => {
    const at = Date.now();
    const m = /^\/fleet\/v1\/units\/([^/?]+)/.exec(req.url ?? '');
    if (req.method === 'PUT' && m) {
      const name = decodeURIComponent(m[1]!);
      if (!firstPut.has(name)) firstPut.set(name, at);
    }
    const upstream = http.request({ host: upstreamUrl.hostname, port: upstreamUrl.port, method: req.method, path: req.url, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
    firstPut,
    close: () => { proxy.close(); proxy.closeAllConnections(); agent.destroy(); },
  };
}
