import { createHmac, timingSafeEqual } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  /** The raw body, as the signature covers it. */
  body: string;
  payload: {
    id: string; event: string; webhook: string; service: string; sentAt: number; attempt: number;
    record: { id: string; outcome: string; service: string; reason: string | null; action: { kind: string; instance: string } | null };
  };
  /** Whether X-Dynamite-Signature is the HMAC-SHA256 of the raw body under the receiver's secret (checked as docs/notifications.md shows). */
  verified: boolean;
  /** The status this receiver answered. */
  status: number;
}

/**
 * A webhook receiver on a local port, as a user would write one: it checks the signature over the raw body, and
 * answers what `answer` says for each request (default 200), keeping every request it got.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  answer: (request: { id: string; nth: number }) => number = () => 200;

  private constructor(private readonly server: http.Server, readonly url: string, private readonly secret: string) {}

  static async start(secret: string): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const r = receiver!;
        const expected = Buffer.from(`sha256=${createHmac('sha256', r.secret).update(raw).digest('hex')}`);
        const given = Buffer.from(String(req.headers['x-dynamite-signature'] ?? ''));
        const verified = given.length === expected.length && timingSafeEqual(given, expected);
        const payload = JSON.parse(raw.toString('utf8')) as ReceivedWebhook['payload'];
        const nth = r.received.filter((d) => d.payload.id === payload.id).length + 1;
        const status = verified ? r.answer({ id: payload.id, nth }) : 401;
        r.received.push({ headers: req.headers, body: raw.toString('utf8'), payload, verified, status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `refused (${status})`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/hook`, secret);
    return receiver;
  }

  /** Requests answered 2xx. */
  delivered(): ReceivedWebhook[] {
    return this.received.filter((d) => d.status >= 200 && d.status < 300);
  }

  /** The delivered request of a record with this outcome (and instance, for actions), if any. */
  find(outcome: string, instance?: string): ReceivedWebhook | undefined {
    return this.delivered().find((d) => d.payload.record.outcome === outcome && (instance === undefined || d.payload.record.action?.instance === instance));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
