import axios, { AxiosError } from 'axios';
import type { Job } from 'bullmq';
import { deterministicId, jobIds, keys, webhookRequest, type DecisionRecord, type WebhookJobData, type WebhookPayload } from '@dynamite/domain';
import type { EngineContext } from '../runtime/context';

export interface WebhookDeliveryResult {
  outcome: 'delivered' | 'dropped';
  webhook: string;
  recordId: string;
  /** The receiver's HTTP status, when delivered. */
  status?: number;
}

/** The most of a receiver's answer kept in an error (it ends up in the board and a decision record). */
const ANSWER_SHOWN = 200;

/**
 * Delivers one decision record to one webhook: a POST of the signed JSON body (libs/domain webhookRequest). A 2xx
 * answer delivers it; anything else (another status, a redirect, no answer within the webhook's timeout) fails the
 * attempt, and BullMQ retries it with exponential backoff until its attempts are spent, then keeps it in the failed
 * set, where the board retries it by hand. The URL and secret are read from the current config at each attempt, so
 * a corrected webhook fixes waiting retries; a webhook no longer configured drops them.
 */
export async function deliverWebhook(ctx: EngineContext, data: WebhookJobData, attempt: number): Promise<WebhookDeliveryResult> {
  const config = await ctx.config.current();
  const webhook = config.notifications.webhooks.find((w) => w.name === data.webhook);
  const result = { webhook: data.webhook, recordId: data.record.id };
  if (!webhook) {
    ctx.metrics.webhookDeliveries.inc({ webhook: data.webhook, result: 'dropped' });
    ctx.log.info({ ...result }, `webhook ${data.webhook} is no longer configured; delivery dropped`);
    return { ...result, outcome: 'dropped' };
  }
  const secret = webhook.secret ?? (webhook.secretEnv ? process.env[webhook.secretEnv] : undefined);
  if (!secret) {
    throw new Error(`Notifications.webhooks.${webhook.name}.secret_env: ${webhook.secretEnv ?? '?'} is not set in this worker's environment; set it and restart the worker, then retry`);
  }
  const payload: WebhookPayload = {
    id: jobIds.webhook(data.webhook, data.service, data.record.id),
    event: data.event,
    webhook: data.webhook,
    service: data.service,
    sentAt: ctx.clock.now(),
    attempt,
    record: data.record,
  };
  const { body, headers } = webhookRequest(secret, payload);
  let status: number;
  let answer: string;
  try {
    const res = await axios.post<string>(webhook.url, body, {
      headers,
      timeout: webhook.timeoutMs,
      // The body is signed as it is: sent byte for byte, never re-serialised.
      transformRequest: [(d: unknown) => d],
      transformResponse: [(d: unknown) => d],
      responseType: 'text',
      // A redirect would carry a signed body elsewhere: reported, not followed.
      maxRedirects: 0,
      maxContentLength: 65_536,
      validateStatus: () => true,
    });
    status = res.status;
    answer = typeof res.data === 'string' ? res.data : '';
  } catch (err) {
    throw new Error(`POST ${webhook.url}: ${networkError(err, webhook.timeoutMs)}`);
  }
  if (status < 200 || status >= 300) {
    const shown = answer.trim().replace(/\s+/g, ' ');
    throw new Error(`POST ${webhook.url}: HTTP ${status}${shown ? `: ${shown.length > ANSWER_SHOWN ? `${shown.slice(0, ANSWER_SHOWN)}...` : shown}` : ''}`);
  }
  ctx.metrics.webhookDeliveries.inc({ webhook: data.webhook, result: 'delivered' });
  ctx.log.info({ ...result, event: data.event, status, attempt }, `webhook ${data.webhook} got ${data.record.outcome} record ${data.record.id}`);
  return { ...result, outcome: 'delivered', status };
}

function networkError(err: unknown, timeoutMs: number): string {
  if (err instanceof AxiosError) {
    if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT') return `no answer within ${timeoutMs} ms`;
    if (err.code) return `${err.code}${err.message && !err.message.includes(err.code) ? ` (${err.message})` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * A delivery attempt that failed: counted and logged; once no retry follows, recorded as a `notify_failed` decision
 * record of the service, which says where to retry it (the board's notifications queue).
 */
export async function onWebhookJobFailed(ctx: EngineContext, job: Job, err: Error): Promise<void> {
  const data = job.data as WebhookJobData;
  const final = job.attemptsMade >= (job.opts.attempts ?? 1) || (await job.getState().catch(() => 'unknown')) === 'failed';
  ctx.metrics.webhookDeliveries.inc({ webhook: data.webhook, result: final ? 'failed' : 'retry' });
  ctx.log.warn({ jobId: job.id, webhook: data.webhook, recordId: data.record?.id, attempt: job.attemptsMade, final, err: err.message },
    final ? 'webhook delivery failed; left in the failed set for a retry from the board' : 'webhook delivery failed; will retry');
  if (!final || !data.record) return;
  const now = ctx.clock.now();
  const record: DecisionRecord = {
    id: deterministicId(now, 'notify_failed', data.webhook, data.record.id),
    at: now,
    service: data.service,
    policy: data.record.policy,
    machine: data.record.machine,
    direction: data.record.direction,
    outcome: 'notify_failed',
    reason: err.message.slice(0, 1_000),
    rule: null,
    inputs: { webhook: data.webhook, event: data.event, recordId: data.record.id, recordOutcome: data.record.outcome, attempts: job.attemptsMade, jobId: job.id ?? null },
    action: null,
    message: `webhook ${data.webhook} could not deliver the ${data.record.outcome} record ${data.record.id} after ${job.attemptsMade} attempt(s): ${err.message}; retry it from the board (queue notifications)`,
  };
  await ctx.store.commit([], [{ put: keys.decision(data.service, record.id), value: JSON.stringify(record) }]);
  ctx.metrics.decisions.inc({ service: data.service, outcome: record.outcome, reason: '' });
}
