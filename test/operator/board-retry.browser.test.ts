import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { DYNAMITE_BIN, OperatorEnv, PASSWORD, REPO_ROOT, USER, basic, waitFor } from './support';
import { REDIS_URL } from '../support/redis';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.join(REPO_ROOT, 'test-output', 'board-retry.png');
const SCREENSHOT_FAILED = path.join(REPO_ROOT, 'test-output', 'board-retry-failed.png');

interface BoardJob { id: string; name: string; failedReason?: string; returnValue?: unknown; attempts: number }

/**
 * An operator retries a failed fleet action from Bull Board, in a real browser:
 * `dynamite run` (its own process, 2 attempts 200 ms apart) decides a scale up of web; the emulator fails every PUT
 * of the new instance's units, so the action job ends in the failed set with fleet's error; the faults are cleared;
 * Chromium opens the board with basic-auth credentials, goes to the actions queue's failed jobs and clicks Retry on
 * that job; the unit is then launched in fleet and recorded exactly once in etcd.
 */
describe('Bull Board: manual retry of a failed fleet action', () => {
  let env: OperatorEnv;
  let engine: ChildProcess;
  let engineLog = '';
  let boardUrl = '';
  let browser: Browser | null = null;

  before(async () => {
    env = await OperatorEnv.start('board', { engine: false });
    engine = spawn(process.execPath, [
      DYNAMITE_BIN, 'run', '-c', env.configFile, '-e', env.etcdEndpoint, '-f', env.emulator.url,
      '--redis_url', REDIS_URL, '--queue_prefix', env.prefix, '--http', '127.0.0.1:0',
    ], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        DYNAMITE_HTTP_USER: USER,
        DYNAMITE_HTTP_PASSWORD: PASSWORD,
        DYNAMITE_ACTION_ATTEMPTS: '2',
        DYNAMITE_ACTION_BACKOFF_MS: '200',
        DYNAMITE_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    engine.stderr!.on('data', (d: Buffer) => { engineLog += d.toString('utf8'); });
    boardUrl = await waitFor(async () => {
      if (engine.exitCode !== null) throw new Error(`dynamite run exited with ${engine.exitCode}:\n${engineLog}`);
      const line = engineLog.split('\n').find((l) => l.includes('"operator HTTP listening"'));
      return line ? (JSON.parse(line) as { url: string }).url : null;
    }, 30_000, 'dynamite run listening');
    await env.waitForMinInstances();
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    if (engine && engine.exitCode === null) {
      const exited = new Promise((r) => engine.once('exit', r));
      engine.kill('SIGTERM');
      const force = setTimeout(() => engine.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }
    await env?.stop();
  });

  test('a failed scale-up is retried from the board and launches its unit exactly once', async () => {
    const board = (p: string) => fetch(`${boardUrl}/admin/queues/api/queues${p}`, { headers: { authorization: basic(USER, PASSWORD) } });
    const failedJobs = async (): Promise<BoardJob[]> => {
      const res = await board('?activeQueue=actions&status=failed&page=1&jobsPerPage=50');
      assert.equal(res.status, 200);
      const body = await res.json() as { queues: { name: string; jobs: BoardJob[] }[] };
      return body.queues.find((q) => q.name === 'actions')!.jobs;
    };

    // 1. Every PUT of the next instance's units fails; a breaching metric makes the engine decide that instance.
    await env.faults({ errorRate: 1, methods: ['PUT'], path: 'web(_disc)?@18081\\.service' });
    await env.register('webserver', 'uuid-a', 'web@18080.service');
    const stream = env.stream('webserver', 'uuid-a', 'cpu_user', 95);
    let job: BoardJob;
    try {
      job = await waitFor(async () => (await failedJobs()).find((j) => j.name.includes('web@18081.service')), 60_000, `the scale-up job in the failed set\n${engineLog.slice(-3000)}`);
    } finally {
      await stream.stop();
    }
    const decisionId = job.id.replace(/^action\|/, '');
    // The board's title says what the job is about; fleet's error is kept.
    assert.equal(job.name, `scale-up web: web@18081.service (+ web_disc@18081.service) | reason web_up | decision ${decisionId}`);
    assert.equal(job.attempts, 2);
    assert.match(job.failedReason ?? '', /^PUT \/fleet\/v1\/units\/web_disc%4018081\.service: 500/);
    assert.equal((await env.fleet.getUnit('web@18081.service'))?.currentState ?? 'absent', 'absent');
    const recorded = await waitFor(async () => {
      const action = await env.etcd.get(`/_dynamite/actions/web/${decisionId}`).json() as { status: string } | null;
      return action?.status === 'failed' ? action : null;
    }, 10_000, 'the action recorded failed in etcd');
    assert.equal(recorded.status, 'failed');

    // 2. The operator fixes fleet, then retries the job from the board.
    await env.faults(null);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 1400, height: 1000 } });
    // The board asks for Google fonts; nothing but the board itself is fetched (the rest fails fast, and is ignored).
    await context.route((url) => !url.href.startsWith(boardUrl), (route) => route.abort());
    const page = await context.newPage();
    await page.goto(`${boardUrl}/admin/queues`, { waitUntil: 'domcontentloaded' });
    await page.getByRole('link', { name: 'actions', exact: true }).first().click();
    await page.waitForURL(/\/admin\/queues\/queue\/actions/);
    await page.locator('a[href*="/queue/actions?status=failed"]').first().click();
    await page.waitForURL(/status=failed/);

    const card = page.locator('div[class*="card-"]').filter({ has: page.locator('span[class*="jobId-"]', { hasText: job.id }) }).last();
    await card.waitFor();
    assert.match(await card.innerText(), /scale-up web: web@18081\.service \(\+ web_disc@18081\.service\) \| reason web_up \| decision /);
    assert.match(await card.innerText(), /PUT \/fleet\/v1\/units\/web_disc%4018081\.service: 500/);
    await page.screenshot({ path: SCREENSHOT_FAILED, fullPage: false });

    const retry = card.locator('ul[class*="jobActions-"] li').first().locator('button');
    await retry.hover();
    await page.getByText('Retry', { exact: true }).waitFor();
    await retry.click();
    const dialog = page.getByRole('alertdialog').or(page.getByRole('dialog'));
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /retry this job/);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes('/retry')),
      dialog.getByRole('button', { name: 'Confirm' }).click(),
    ]);
    assert.equal(response.status(), 204);
    assert.equal(decodeURIComponent(new URL(response.url()).pathname), `/admin/queues/api/queues/actions/${job.id}/retry`);

    // 3. fleet launches the unit; etcd records it once.
    await waitFor(async () => {
      const res = await fetch(`${env.emulator.url}/fleet/v1/units/web@18081.service`);
      return res.ok && ((await res.json()) as { currentState?: string }).currentState === 'launched';
    }, 30_000, `web@18081.service launched in the emulator\n${engineLog.slice(-3000)}`);
    const instances = await waitFor(async () => {
      const all = await env.instances('web');
      return all['web@18081.service']?.state === 'launched' ? all : null;
    }, 15_000, 'web@18081 recorded launched');
    assert.deepEqual(Object.keys(instances).sort(), ['web@18080.service', 'web@18081.service']);
    assert.deepEqual(Object.values(instances).map((i) => i.state), ['launched', 'launched']);
    assert.deepEqual(await env.launchedUnits(), ['web@18080.service', 'web@18081.service', 'web_disc@18080.service', 'web_disc@18081.service', 'slow@19090.service'].sort());
    const action = await env.etcd.get(`/_dynamite/actions/web/${decisionId}`).json() as { status: string };
    assert.equal(action.status, 'done');

    // The board shows the job completed, with its return value.
    await page.locator('a[href*="/queue/actions?status=completed"]').first().click();
    await page.waitForURL(/status=completed/);
    const done = page.locator('div[class*="card-"]').filter({ has: page.locator('span[class*="jobId-"]', { hasText: job.id }) }).last();
    await done.waitFor({ timeout: 15_000 });
    await page.screenshot({ path: SCREENSHOT, fullPage: false });
    assert.ok(fs.statSync(SCREENSHOT).size > 10_000);
    console.log(`screenshot: ${SCREENSHOT} (before the retry: ${SCREENSHOT_FAILED})`);
  });
});
