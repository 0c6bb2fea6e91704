import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import IORedis from 'ioredis';
import { JOB, NOTIFICATIONS_QUEUE, jobIds, type WebhookJobData } from '@dynamite/domain';
import { JobProducer } from '@dynamite/engine';
import { JobQueues } from '@dynamite/queues';
import { EngineHarness, REPO_ROOT, sampleStream, waitFor, webServiceConfig } from '../support/engine-harness';
import { freePort } from '../support/ports';
import { WebhookReceiver, type ReceivedWebhook } from '../support/webhook-receiver';

const SECRET = 'test-secret-for-the-good-receiver';
const FLAKY_SECRET = 'flaky-secret-0123456789';
const DOWN_SECRET = 'down-secret-0123456789';
const EXAMPLE_SECRET = 'example-secret-0123456789';

/**
 * Webhooks against real engine processes: a scheduler and a worker over a private etcd, Redis and the fleet emulator,
 * with three local receivers -- one that accepts every delivery, one that answers 500 to the first attempt of each,
 * one that refuses everything until told otherwise. Each receiver checks the HMAC-SHA256 signature itself.
 */
describe('webhook notifications of decisions and actions', () => {
  let h: EngineHarness;
  let good: WebhookReceiver;
  let flaky: WebhookReceiver;
  let down: WebhookReceiver;
  let boardUrl: string;
  /** examples/notifications/receiver.js, the receiver docs/notifications.md shows, and the lines it printed. */
  let example: ChildProcess;
  const exampleLines: string[] = [];

  before(async () => {
    [good, flaky, down] = await Promise.all([WebhookReceiver.start(SECRET), WebhookReceiver.start(FLAKY_SECRET), WebhookReceiver.start(DOWN_SECRET)]);
    const examplePort = await freePort();
    example = spawn(process.execPath, [path.join(REPO_ROOT, 'examples', 'notifications', 'receiver.js'), String(examplePort)], {
      env: { ...process.env, DYNAMITE_WEBHOOK_SECRET: EXAMPLE_SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let exampleErr = '';
    example.stdout!.setEncoding('utf8').on('data', (d: string) => exampleLines.push(...d.split('\n').filter((l) => l !== '')));
    example.stderr!.setEncoding('utf8').on('data', (d: string) => { exampleErr += d; });
    await waitFor(async () => exampleErr.includes('listening on'), 10_000, 'the example receiver listening');
    flaky.answer = ({ nth }) => (nth === 1 ? 500 : 200);
    down.answer = () => 503;
    const { config, units } = webServiceConfig({ min: 1, max: 3, upPeriod: 1.5, cooldown: 30 });
    const notifications = `
  Notifications:
    webhooks:
      good:
        url: ${good.url}
        secret_env: TEST_WEBHOOK_SECRET
        events: [decision, action]
      flaky:
        url: ${flaky.url}
        secret: ${FLAKY_SECRET}
        events: [action]
        services: [web]
      down:
        url: ${down.url}
        secret: ${DOWN_SECRET}
        events: [action]
      example:
        url: http://127.0.0.1:${examplePort}/dynamite
        secret_env: EXAMPLE_WEBHOOK_SECRET
`;
    h = await EngineHarness.start({
      suite: 'notifications',
      config: config + notifications,
      units,
      env: { TEST_WEBHOOK_SECRET: SECRET, EXAMPLE_WEBHOOK_SECRET: EXAMPLE_SECRET, DYNAMITE_WEBHOOK_ATTEMPTS: '3', DYNAMITE_WEBHOOK_BACKOFF_MS: '200' },
    });
    const port = await freePort();
    boardUrl = `http://127.0.0.1:${port}/admin/queues`;
    h.spawn('scheduler', ['--http', `127.0.0.1:${port}`]);
    h.spawn('worker');
    await waitFor(async () => (await h.launchedUnits()).includes('web@8080.service'), 30_000, 'min instance launched', h);
  });

  after(async () => {
    example?.kill('SIGTERM');
    await h?.stop();
    await Promise.all([good, flaky, down].map((r) => r?.close()));
  });

  /** The checks every delivery must pass: signed, headers agreeing with the signed body, the record as etcd holds it. */
  async function assertWellFormed(d: ReceivedWebhook, event: string): Promise<void> {
    assert.equal(d.verified, true, 'signature verifies');
    assert.equal(d.headers['x-dynamite-event'], event);
    assert.equal(d.payload.event, event);
    assert.equal(d.headers['x-dynamite-delivery'], d.payload.id);
    assert.equal(d.headers['x-dynamite-timestamp'], String(d.payload.sentAt));
    assert.equal(d.headers['content-type'], 'application/json');
    assert.equal(d.payload.id, jobIds.webhook(d.payload.webhook, d.payload.service, d.payload.record.id));
    const stored = (await h.decisions(d.payload.service)).find((r) => r.id === d.payload.record.id);
    assert.deepEqual(d.payload.record, stored, 'the record delivered is the one committed to etcd');
  }

  test('the min_instance repair at start: its decision and its launched action reach the webhook, signed', async () => {
    const repair = await waitFor(async () => good.find('bound_repair', 'web@8080.service'), 20_000, 'bound_repair delivered', h);
    const done = await waitFor(async () => good.find('action_done', 'web@8080.service'), 20_000, 'action_done delivered', h);
    await assertWellFormed(repair, 'decision');
    await assertWellFormed(done, 'action');
    assert.equal(repair.payload.webhook, 'good');
    assert.equal(repair.payload.record.reason, 'min_instance');
  });

  test('a real scale-up: the scaled decision and its launched unit, each delivered once', async () => {
    const stream = sampleStream(h, 'webserver', 'n1', 'cpu_user', () => 95);
    let scaled: ReceivedWebhook;
    try {
      scaled = await waitFor(async () => good.find('scaled'), 30_000, 'scaled decision delivered', h);
    } finally {
      await stream.stop();
    }
    await assertWellFormed(scaled, 'decision');
    const instance = scaled.payload.record.action!.instance;
    assert.equal(instance, 'web@8081.service');
    const done = await waitFor(async () => good.find('action_done', instance), 30_000, 'the scale-up action delivered', h);
    await assertWellFormed(done, 'action');
    assert.ok((await h.launchedUnits()).includes(instance));

    // Nothing delivered twice, and nothing but decisions and actions: no arming or disarming records (a breaching
    // sample inside the cooldown is a `suppressed: cooldown` decision, once per cooldown).
    const ids = good.received.map((d) => d.payload.id);
    assert.equal(new Set(ids).size, ids.length, `each delivery once: ${ids.join(', ')}`);
    const outcomes = new Set(good.received.map((d) => d.payload.record.outcome));
    assert.deepEqual([...outcomes].filter((o) => !['action_done', 'bound_repair', 'scaled', 'suppressed'].includes(o)), []);
  });

  test('a receiver that answers 500 first: retried with backoff, then delivered once', async () => {
    const delivered = await waitFor(async () => flaky.find('action_done', 'web@8080.service'), 20_000, 'flaky receiver got the action', h);
    const attempts = flaky.received.filter((d) => d.payload.id === delivered.payload.id);
    assert.deepEqual(attempts.map((d) => [d.payload.attempt, d.status]), [[1, 500], [2, 200]]);
    assert.ok(attempts.every((d) => d.verified), 'every attempt is signed');
    assert.ok(attempts[1]!.payload.sentAt > attempts[0]!.payload.sentAt, 'each attempt carries its own time');
    assert.ok(flaky.received.every((d) => d.payload.record.outcome === 'action_done' && d.payload.service === 'web'), 'only the events and services it asked for');
    const job = await h.queue(NOTIFICATIONS_QUEUE).getJob(delivered.payload.id);
    assert.equal(await job!.getState(), 'completed');
    assert.equal(job!.attemptsMade, 2);
  });

  test('a receiver that keeps failing: the delivery is failed in the board, recorded as notify_failed, and a retry from the board delivers it', async () => {
    const id = jobIds.webhook('down', 'web', (await waitFor(async () => good.find('action_done', 'web@8080.service'), 20_000, 'action record known', h)).payload.record.id);
    const queue = h.queue(NOTIFICATIONS_QUEUE);
    await waitFor(async () => (await (await queue.getJob(id))?.getState()) === 'failed', 30_000, 'the delivery failed for good', h);
    assert.equal(down.received.filter((d) => d.payload.id === id).length, 3, 'three attempts (DYNAMITE_WEBHOOK_ATTEMPTS)');
    const failedRecord = await waitFor(async () => (await h.decisions('web')).find((r) => r.outcome === 'notify_failed' && r.inputs.jobId === id), 20_000, 'notify_failed record', h);
    assert.equal(failedRecord.inputs.webhook, 'down');
    assert.match(failedRecord.reason ?? '', /HTTP 503: refused \(503\)/);

    // The board lists it with the receiver's answer, and retries it.
    const listed = await fetch(`${boardUrl}/api/queues?activeQueue=${NOTIFICATIONS_QUEUE}&status=failed&page=1&jobsPerPage=50`);
    const body = await listed.json() as { queues: { name: string; jobs: { id: string; failedReason: string }[] }[] };
    const failed = body.queues.find((q) => q.name === NOTIFICATIONS_QUEUE)!.jobs.find((j) => j.id === id);
    assert.ok(failed, 'the failed delivery is in the board');
    assert.match(failed.failedReason, /HTTP 503/);
    down.answer = () => 200;
    const retry = await fetch(`${boardUrl}/api/queues/${NOTIFICATIONS_QUEUE}/${encodeURIComponent(id)}/retry`, { method: 'PUT' });
    assert.equal(retry.status, 204);
    const delivered = await waitFor(async () => down.delivered().find((d) => d.payload.id === id), 20_000, 'delivered after the retry', h);
    assert.equal(delivered.verified, true);
    await waitFor(async () => (await (await queue.getJob(id))?.getState()) === 'completed', 10_000, 'the job completed', h);
  });

  test('the receiver of docs/notifications.md (examples/notifications/receiver.js) verifies and prints the engine\'s deliveries', async () => {
    const lines = await waitFor(async () => {
      const parsed = exampleLines.map((l) => JSON.parse(l) as { id: string; event: string; service: string; outcome: string });
      return parsed.some((p) => p.outcome === 'bound_repair') && parsed.some((p) => p.outcome === 'action_done') ? parsed : null;
    }, 20_000, 'the example receiver printed the repair and its action', h);
    const repair = lines.find((p) => p.outcome === 'bound_repair')!;
    assert.deepEqual({ event: repair.event, service: repair.service }, { event: 'decision', service: 'web' });
    assert.equal(new Set(lines.map((p) => p.id)).size, lines.length, 'each delivery printed once');
  });

  test('the same record committed again (a retried job) adds no second delivery', async () => {
    const first = await waitFor(async () => good.find('action_done', 'web@8080.service'), 20_000, 'delivered once', h);
    const connection = new IORedis(h.redisUrl, { maxRetriesPerRequest: null });
    const jobs = new JobProducer(new JobQueues(connection, h.prefix));
    try {
      const data: WebhookJobData = { webhook: 'good', event: 'action', service: 'web', record: first.payload.record as unknown as WebhookJobData['record'] };
      const before = await h.queue(NOTIFICATIONS_QUEUE).getJob(first.payload.id);
      await jobs.addWebhooks([data]);
      const afterAdd = await h.queue(NOTIFICATIONS_QUEUE).getJob(first.payload.id);
      assert.equal(afterAdd!.name, JOB.webhook);
      assert.equal(await afterAdd!.getState(), 'completed', 'still the completed delivery: the add was a no-op');
      assert.equal(afterAdd!.finishedOn, before!.finishedOn);
      assert.equal(good.received.filter((d) => d.payload.id === first.payload.id).length, 1);
    } finally {
      await jobs.close();
      connection.disconnect();
    }
  });
});
