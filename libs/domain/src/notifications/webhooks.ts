import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DynamiteConfig, NotificationEvent, WebhookConfig } from '../config/types';
import type { DecisionRecord } from '../policy/decision-record';

/**
 * What a webhook receives and how it is signed (docs/notifications.md). Pure: the engine's notifier picks the
 * webhooks of a committed record here, and its delivery processor builds the body and headers here.
 *
 * Each delivery is one POST with a JSON body; `X-Dynamite-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw
 * body bytes under the webhook's secret. The body carries `sentAt` (also in `X-Dynamite-Timestamp`), so the time
 * is signed with it: a receiver refuses old deliveries by it, and repeated ones by `id`.
 */

export const SIGNATURE_HEADER = 'X-Dynamite-Signature';
export const TIMESTAMP_HEADER = 'X-Dynamite-Timestamp';
export const EVENT_HEADER = 'X-Dynamite-Event';
export const DELIVERY_HEADER = 'X-Dynamite-Delivery';

/** Which event a record is, or null for records no webhook is told about (arming, disarming, resyncs, failed deliveries). */
export function notificationEventOf(record: DecisionRecord): NotificationEvent | null {
  switch (record.outcome) {
    case 'scaled':
    case 'suppressed':
    case 'bound_repair':
      return 'decision';
    case 'action_done':
    case 'action_failed':
      return 'action';
    case 'reconfigured':
      return 'config';
    default:
      return null;
  }
}

/** The webhooks that want `record`: its event is one of theirs, and its service one of theirs (when they name any). */
export function webhooksFor(config: DynamiteConfig, record: DecisionRecord): { webhook: WebhookConfig; event: NotificationEvent }[] {
  const event = notificationEventOf(record);
  if (event === null) return [];
  return config.notifications.webhooks
    .filter((w) => w.events.includes(event) && (w.services === null || w.services.includes(record.service)))
    .map((webhook) => ({ webhook, event }));
}

export interface WebhookPayload {
  /** The delivery's id: the same for every attempt (and a manual retry) of one record to one webhook. */
  id: string;
  event: NotificationEvent;
  webhook: string;
  service: string;
  /** When this attempt was sent (epoch ms); the same value as the X-Dynamite-Timestamp header. */
  sentAt: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** The decision record, as committed to etcd. */
  record: DecisionRecord;
}

/** The body and headers of one attempt. The body is sent exactly as returned: the signature is over these bytes. */
export function webhookRequest(secret: string, payload: WebhookPayload): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(payload);
  return {
    body,
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'dynamite-webhook/1',
      [SIGNATURE_HEADER]: signatureOf(secret, body),
      [TIMESTAMP_HEADER]: String(payload.sentAt),
      [EVENT_HEADER]: payload.event,
      [DELIVERY_HEADER]: payload.id,
    },
  };
}

/** `sha256=<hex HMAC-SHA256 of body under secret>`. */
export function signatureOf(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `header` is the signature of `body` (compared in constant time): what a receiver checks. */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined | null): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(signatureOf(secret, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
