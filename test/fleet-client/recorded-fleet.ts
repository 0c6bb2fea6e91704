/**
 * A real HTTP server that answers with bytes recorded from fleet v1.0.0 (spec fleet-api-v1.md §9), for the
 * behaviours of real fleet that the emulator deliberately does not copy (the `/state/{name}` panic) or that
 * need exact request bytes. It records every exchange so tests can check what the client sent.
 */
import http from 'node:http';

export interface Exchange {
  method: string;
  url: string;
  rawHeaders: string[];
  body: string;
}

export interface HttpReply {
  status: number;
  json?: string;
  text?: string;
  server?: boolean;
}

export type Reply = HttpReply | 'drop' | 'hang';

export interface RecordedFleet {
  url: string;
  exchanges: Exchange[];
  stop(): Promise<void>;
}

/** `json` replies get fleet's headers; `text` replies look like a proxy page; `server: false` mimics the 503 outer handler. */
export async function startRecordedFleet(answer: (exchange: Exchange) => Reply, socketPath?: string): Promise<RecordedFleet> {
  const exchanges: Exchange[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      const exchange = { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body };
      exchanges.push(exchange);
      const reply = answer(exchange);
      if (reply === 'drop') { req.socket.destroy(); return; }
      if (reply === 'hang') return;
      if (reply.server !== false) res.setHeader('Server', 'fleetd/1.0.0');
      if (reply.json !== undefined) {
        res.setHeader('Content-Type', 'application/json');
        res.writeHead(reply.status).end(reply.json);
      } else if (reply.text !== undefined) {
        res.setHeader('Content-Type', 'text/html');
        res.writeHead(reply.status).end(reply.text);
      } else {
        res.writeHead(reply.status).end();
      }
    });
  });
  await new Promise<void>((resolve) => (socketPath ? server.listen(socketPath, resolve) : server.listen(0, '127.0.0.1', resolve)));
  const address = server.address();
  const url = socketPath ? `unix://${socketPath}` : `http://127.0.0.1:${(address as { port: number }).port}`;
  return {
    url,
    exchanges,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export function fleetError(status: number, message: string): HttpReply {
  return { status, json: JSON.stringify({ error: { code: status, message } }) };
}

/** The Content-Type header values a request carried (fleet wants exactly one). */
export function contentTypes(exchange: Exchange): string[] {
  const values: string[] = [];
  for (let i = 0; i < exchange.rawHeaders.length; i += 2) {
    if (exchange.rawHeaders[i].toLowerCase() === 'content-type') values.push(exchange.rawHeaders[i + 1]);
  }
  return values;
}
