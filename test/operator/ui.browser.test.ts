import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { keys, type DecisionRecord } from '@dynamite/domain';
import type { ServiceTimeline } from '@dynamite/operator';
import { OperatorEnv, PASSWORD, REPO_ROOT, USER, basic, waitFor } from './support';

const CHROMIUM = '/usr/bin/chromium';
const OUT = path.join(REPO_ROOT, 'test-output');
const SHOTS = {
  list: path.join(OUT, 'ui-services.png'),
  before: path.join(OUT, 'ui-service-web-before.png'),
  after: path.join(OUT, 'ui-service-web.png'),
  paused: path.join(OUT, 'ui-service-web-paused.png'),
};

async function decisionsInEtcd(env: OperatorEnv, service: string): Promise<DecisionRecord[]> {
  const all = await env.etcd.getAll().prefix(keys.serviceDecisionsPrefix(service)).json() as Record<string, DecisionRecord>;
  return Object.values(all).sort((a, b) => b.id.localeCompare(a.id));
}

/** Recorded instances that are creating or launched: the count min and max bound. */
async function desiredInEtcd(env: OperatorEnv, service: string): Promise<number> {
  return Object.values(await env.instances(service)).filter((i) => i.state === 'creating' || i.state === 'launched').length;
}

async function samplesInEtcd(env: OperatorEnv, prefix: string): Promise<number> {
  return (await env.etcd.getAll().prefix(prefix).keys()).length;
}

/**
 * The page's document as functions that run in the page see it: typed here, since this project compiles without
 * the DOM library (and such functions can use nothing of this module but types).
 */
interface PageElement { getAttribute(name: string): string | null }
type PageGlobal = { document: { querySelector(s: string): PageElement | null; querySelectorAll(s: string): Iterable<PageElement> } };

/** Waits until `selector`'s attribute `name` is `value` on the page (the page redraws itself: no reload). */
async function attributeIs(page: Page, selector: string, name: string, value: string, timeout = 15_000): Promise<void> {
  await page.waitForFunction(({ selector, name, value }) => (globalThis as unknown as PageGlobal).document.querySelector(selector)?.getAttribute(name) === value, { selector, name, value }, { timeout });
}

/**
 * The `/ui` page in headless Chromium, on a real engine (in-process scheduler and worker, etcd, the fleet emulator),
 * behind basic auth with public reads: the page needs credentials like the board, loads nothing from anywhere but
 * the listener, shows what etcd holds, and follows a scale-up decided by the engine without a reload.
 */
describe('operator page /ui in Chromium', () => {
  let env: OperatorEnv;
  let browser: Browser | null = null;
  let context: BrowserContext;
  let page: Page;
  const foreign: string[] = [];
  const problems: string[] = [];

  before(async () => {
    env = await OperatorEnv.start('ui', { http: { credentials: { user: USER, password: PASSWORD }, publicReads: true } });
    await env.waitForMinInstances();
    fs.mkdirSync(OUT, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 1400, height: 1000 } });
    // An operator network has no internet: /ui must not even try to load anything from elsewhere (the board, opened
    // from a link, asks for Google fonts; it works without them).
    await context.route((url) => !url.href.startsWith(env.url), (route) => {
      if (route.request().frame().url().startsWith(`${env.url}/ui`)) foreign.push(route.request().url());
      return route.abort();
    });
    page = await context.newPage();
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await env?.stop();
  });

  test('the page, its script and uPlot are served by the listener, behind the same credentials as the board', async () => {
    assert.equal((await fetch(`${env.url}/ui`)).status, 401);
    assert.equal((await fetch(`${env.url}/ui/services/web`)).status, 401);
    assert.equal((await fetch(`${env.url}/ui/assets/app.mjs`)).status, 401);
    // Public reads open the API (the page's data), not the page.
    assert.equal((await fetch(`${env.url}/api/services/web/timeline`)).status, 200);
    const auth = { headers: { authorization: basic(USER, PASSWORD) } };
    const html = await fetch(`${env.url}/ui`, auth);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(html.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    const uplot = await fetch(`${env.url}/ui/vendor/uPlot.iife.min.js`, auth);
    assert.equal(uplot.status, 200);
    assert.deepEqual(Buffer.from(await uplot.arrayBuffer()), fs.readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')));
    const client = await fetch(`${env.url}/ui/assets/app.mjs`, auth);
    assert.match(client.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal((await fetch(`${env.url}/ui/nothing`, auth)).status, 404);
  });

  test('the service list shows every service as etcd records it', async () => {
    await page.goto(`${env.url}/ui`, { waitUntil: 'domcontentloaded' });
    await page.locator('#services tbody tr').nth(1).waitFor();
    const rows = await page.locator('#services tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-service'), tr.getAttribute('data-desired'), tr.getAttribute('data-actual')]));
    assert.deepEqual(rows, [
      ['web', String(await desiredInEtcd(env, 'web')), '1'],
      ['slow', String(await desiredInEtcd(env, 'slow')), '1'],
    ]);
    const web = page.locator('#services tr[data-service="web"]');
    assert.match(await web.innerText(), /web_up: idle/);
    assert.match(await web.innerText(), /1 – 3/);
    await page.screenshot({ path: SHOTS.list, fullPage: true });
  });

  test('a service page shows what etcd holds and follows a scale-up without a reload', async () => {
    await page.locator('#services a', { hasText: 'web' }).first().click();
    await page.waitForURL(/\/ui\/services\/web$/);
    const upCard = 'section[data-policy="web_up"]';
    await attributeIs(page, upCard, 'data-threshold', '80');
    await attributeIs(page, '#instances', 'data-desired', String(await desiredInEtcd(env, 'web')));
    await attributeIs(page, '#instances', 'data-last', '1');
    assert.equal(await page.locator('#instances').getAttribute('data-min'), '1');
    assert.equal(await page.locator('#instances').getAttribute('data-max'), '3');
    const before = await decisionsInEtcd(env, 'web');
    assert.deepEqual(await page.locator('#decisions tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-decision-id'))), before.slice(0, 25).map((d) => d.id));
    assert.equal(await page.locator('canvas').count(), 3, 'two policy charts and the instance chart');
    await page.screenshot({ path: SHOTS.before, fullPage: true });

    // From here on the page must update itself: a reload would drop this marker.
    await page.evaluate(() => { (globalThis as unknown as { marker: string }).marker = 'same page'; });

    // The engine decides a scale-up from real samples.
    await env.register('webserver', 'uuid-a', 'web@18080.service');
    const stream = env.stream('webserver', 'uuid-a', 'cpu_user', 95);
    let fired: DecisionRecord;
    try {
      fired = await waitFor(async () => (await decisionsInEtcd(env, 'web')).find((d) => d.outcome === 'scaled'), 30_000, 'a scaled record of web_up');
      await waitFor(async () => (await env.instances('web'))['web@18081.service']?.state === 'launched', 30_000, 'web@18081 launched');
    } finally {
      await stream.stop();
    }
    const samples = await samplesInEtcd(env, '/metrics/webserver/uuid-a/cpu_user/');

    await attributeIs(page, '#instances', 'data-desired', '2');
    await attributeIs(page, '#instances', 'data-last', '2');
    await attributeIs(page, '#instances', 'data-changes', '2');
    await attributeIs(page, upCard, 'data-samples', String(samples));
    await attributeIs(page, upCard, 'data-fired', '1');
    await attributeIs(page, upCard, 'data-cooldowns', '1');
    await attributeIs(page, upCard, 'data-state', 'cooldown');
    assert.equal(await desiredInEtcd(env, 'web'), 2);
    // Every window and mark the API (read from etcd) has, the page counted.
    const timeline = await (await fetch(`${env.url}/api/services/web/timeline`)).json() as ServiceTimeline;
    const up = timeline.policies.find((p) => p.name === 'web_up')!;
    await attributeIs(page, upCard, 'data-windows', String(up.windows.length));
    await attributeIs(page, upCard, 'data-suppressed', String(up.marks.filter((m) => m.outcome === 'suppressed').length));
    // The last decisions, newest first, as etcd holds them; the fire and its result link the action's board job.
    const after = await decisionsInEtcd(env, 'web');
    await page.waitForFunction((ids) => JSON.stringify([...(globalThis as unknown as PageGlobal).document.querySelectorAll('#decisions tbody tr')].map((tr) => tr.getAttribute('data-decision-id'))) === JSON.stringify(ids),
      after.slice(0, 25).map((d) => d.id), { timeout: 15_000 });
    const jobPath = `/admin/queues/queue/actions/${encodeURIComponent(`action|${fired.id}`)}`;
    assert.equal(await page.locator(`#decisions tr[data-decision-id="${fired.id}"] a`).getAttribute('href'), jobPath);
    assert.equal(await page.locator(`#decisions tr[data-outcome="action_done"] a[href="${jobPath}"]`).count(), 1);

    // A new sample appears without a reload.
    await env.sample('webserver', 'uuid-a', 'cpu_user', 50);
    await attributeIs(page, upCard, 'data-samples', String(samples + 1));
    // The last minute only, chosen on the page: redrawn in place too.
    await page.locator('h1 select').selectOption('1');
    await attributeIs(page, '#app', 'data-minutes', '1');
    await attributeIs(page, upCard, 'data-samples', String(samples + 1));
    assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker), 'same page');
    assert.match(page.url(), /\/ui\/services\/web\?minutes=1$/);
    await page.screenshot({ path: SHOTS.after, fullPage: true });

    // The board link opens the action's job.
    const boardPage = await context.newPage();
    await boardPage.goto(`${env.url}${jobPath}`, { waitUntil: 'domcontentloaded' });
    await boardPage.getByText(`scale-up web: web@18081.service`, { exact: false }).first().waitFor({ timeout: 15_000 });
    await boardPage.close();
  });

  test('a pause made through the API appears on the page, and goes when resumed', async () => {
    const auth = { authorization: basic(USER, PASSWORD), 'content-type': 'application/json' };
    const paused = await fetch(`${env.url}/api/services/web/pause`, { method: 'POST', headers: auth, body: JSON.stringify({ direction: 'up', reason: 'maintenance window' }) });
    assert.equal(paused.status, 200, await paused.text());
    await page.locator('#paused').waitFor({ timeout: 15_000 });
    assert.match(await page.locator('#paused').innerText(), /^Scaling up paused since \S+ until resumed by \S+: maintenance window\. No policy scales this service up while it holds\.$/);
    assert.equal(await page.locator('h1 .badge.paused').count(), 1);
    await page.screenshot({ path: SHOTS.paused, fullPage: true });
    const resumed = await fetch(`${env.url}/api/services/web/pause`, { method: 'DELETE', headers: { authorization: basic(USER, PASSWORD) } });
    assert.equal(resumed.status, 200, await resumed.text());
    await page.locator('#paused').waitFor({ state: 'detached', timeout: 15_000 });

    assert.deepEqual(foreign, [], 'requests to anywhere but the listener');
    assert.deepEqual(problems, [], 'console errors (a blocked script or style would be one)');
    for (const file of Object.values(SHOTS)) assert.ok(fs.statSync(file).size > 10_000, file);
    console.log(`screenshots: ${Object.values(SHOTS).join(' ')}`);
  });
});
