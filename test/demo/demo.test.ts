import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import IORedis from 'ioredis';

// `dynamite demo`, end to end, as a user runs it: a short version (60 s of traffic) as a child process. It must
// scale the web service up and back down, hold a scale-up window while its operator pauses scaling up, exit 0, and
// leave nothing behind (processes, run dir, queue keys). It runs with credentials for the operator listener in its
// environment, as a user may have them: the page it prints must answer with them, and only with them.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'dynamite.js');
const DURATION_S = 60;

function processesMentioning(marker: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(marker)) found.push(`${entry}: ${cmdline.replace(/\0/g, ' ')}`);
    } catch {
      // gone
    }
  }
  return found;
}

/** Status of GET `url` once it answers (the scheduler may still be starting), with and without `auth`. */
async function pageStatus(url: string, auth: string, until: number): Promise<{ withAuth: number; without: number; type: string }> {
  for (;;) {
    try {
      const res = await fetch(url, { headers: { authorization: auth }, signal: AbortSignal.timeout(10_000) });
      const type = res.headers.get('content-type') ?? '';
      await res.arrayBuffer();
      const bare = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      await bare.arrayBuffer();
      return { withAuth: res.status, without: bare.status, type };
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

test('dynamite demo scales up and back down, holds a window while paused, prints a summary and exits 0', { timeout: 240_000 }, async () => {
  const started = Date.now();
  const password = randomBytes(9).toString('base64url');
  const child = spawn(process.execPath, [BIN, 'demo', '--duration', String(DURATION_S)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0', DYNAMITE_HTTP_USER: 'demo-test', DYNAMITE_HTTP_PASSWORD: password },
  });
  const auth = `Basic ${Buffer.from(`demo-test:${password}`).toString('base64')}`;
  let output = '';
  // The page is only up while the demo runs: asked as soon as its URL is printed.
  let pages = null as Promise<{ withAuth: number; without: number; type: string }[]> | null;
  const onData = (d: Buffer) => {
    output += d.toString('utf8');
    const printed = /^ {2}page: (http:\/\/\S+\/ui\/services\/webserver) \(all services: (http:\/\/\S+\/ui)\)/m.exec(output);
    if (printed && pages === null) {
      const until = Date.now() + 90_000;
      pages = Promise.all([pageStatus(printed[1]!, auth, until), pageStatus(printed[2]!, auth, until)]);
      pages.catch(() => undefined);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGINT'), 200_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const seconds = (Date.now() - started) / 1000;
  const context = `\n--- demo output (exit ${code}, ${seconds.toFixed(1)} s) ---\n${output}`;

  assert.equal(code, 0, `demo should exit 0${context}`);
  const ups = /^\s*scale ups: (\d+)$/m.exec(output);
  const downs = /^\s*scale downs: (\d+)$/m.exec(output);
  assert.ok(ups && Number(ups[1]) >= 1, `summary should show at least one scale up${context}`);
  assert.ok(downs && Number(downs[1]) >= 1, `summary should show at least one scale down${context}`);
  assert.match(output, /^result: OK/m, context);
  assert.match(output, /time from breach to new instance launched: mean [\d.]+ s/, context);
  // Every scaling decision showed up live, as it happened.
  assert.match(output, /SCALE UP .* -> creating webserver@\d+\.service/, context);
  assert.match(output, /SCALE DOWN .* -> removing webserver@\d+\.service/, context);
  assert.ok(seconds < 180, `the whole demo should take well under three minutes (took ${seconds.toFixed(1)} s)`);

  // The /ui page of the service and the list, printed with how to log in, answered 200 with the credentials only.
  assert.match(output, /^ {2}page: http:\/\/127\.0\.0\.1:\d+\/ui\/services\/webserver \(all services: http:\/\/127\.0\.0\.1:\d+\/ui\) \(basic auth: user demo-test, the password in DYNAMITE_HTTP_PASSWORD\)$/m, context);
  assert.ok(pages, `the demo prints the page's URL${context}`);
  for (const page of await pages) {
    assert.equal(page.withAuth, 200, context);
    assert.equal(page.without, 401, context);
    assert.match(page.type, /^text\/html/);
  }
  assert.ok(!output.includes(password), 'the demo never prints the password');

  // The pause: set with the CLI before the load rose, held at least one scale-up window (recorded suppressed:
  // paused), no scale up while it was set, resumed through the API (with the credentials), then scale ups again.
  const lines = output.split('\n');
  const pauseCommand = lines.findIndex((l) => /operator: dynamite pause webserver --up --for \S+ --reason .* -e \S+$/.test(l));
  const paused = lines.findIndex((l) => /^ +webserver: paused \(scaling up\) by \S+ until \S+: "demo: /.test(l));
  const resume = lines.findIndex((l) => /operator \(\d+ scale-up windows? recorded suppressed: paused\): curl -u "\$DYNAMITE_HTTP_USER:\$DYNAMITE_HTTP_PASSWORD" -X DELETE http:\/\/127\.0\.0\.1:\d+\/api\/services\/webserver\/pause$/.test(l));
  assert.ok(pauseCommand >= 0 && paused > pauseCommand, `the demo pauses with the CLI and prints its answer${context}`);
  assert.ok(resume > paused, `the demo resumes through the API once a window was recorded paused${context}`);
  assert.match(lines[resume + 1] ?? '', /^ +\{"service":"webserver","resumed":true\}$/, context);
  const whilePaused = lines.slice(paused + 1, resume);
  assert.ok(whilePaused.some((l) => /suppressed +scale up on \S+ \(webserver@\d+\.service\): paused: webserver is paused \(scaling up\)/.test(l)),
    `a scale-up window was recorded suppressed: paused while paused${context}`);
  assert.deepEqual(whilePaused.filter((l) => /SCALE UP|launched +webserver/.test(l)), [], 'no scale up was decided or launched while paused');
  assert.ok(lines.slice(resume).some((l) => /SCALE UP .* -> creating webserver@\d+\.service/.test(l)), `the engine scaled up after the resume${context}`);
  const pauseSummary = /^ {2}pause: scaling up paused \+[\d.]+s \.\. \+[\d.]+s by \S+ \("demo: [^"]+"\): (\d+) windows? recorded suppressed: paused, no scale up while paused$/m.exec(output);
  assert.ok(pauseSummary && Number(pauseSummary[1]) >= 1, `the summary says the pause held (by etcd revisions)${context}`);
  assert.match(output, /^result: OK: .*; the pause held \d+ scale-up windows?$/m, context);

  // Nothing left behind: no process names the run dir, the run dir is gone, the queue keys are gone.
  const runDir = /config: (\S+)\/dynamite\.yaml/.exec(output)?.[1];
  assert.ok(runDir, `the demo prints its config path${context}`);
  assert.deepEqual(processesMentioning(runDir), [], 'no process of the demo survives it');
  assert.equal(fs.existsSync(runDir), false, 'the run dir is removed after a successful run');
  const prefix = /queue prefix (demo-[0-9a-f]+)/.exec(output)?.[1];
  assert.ok(prefix, `the demo prints its queue prefix${context}`);
  const redisUrl = /redis: (redis:\/\/\S+)/.exec(output)?.[1];
  if (redisUrl && /running already/.test(output)) {
    const redis = new IORedis(redisUrl, { maxRetriesPerRequest: 1 });
    try {
      const [, keys] = await redis.scan('0', 'MATCH', `${prefix}:*`, 'COUNT', 10_000);
      assert.deepEqual(keys, [], 'the demo deletes its queue keys');
    } finally {
      redis.disconnect();
    }
  }
});

test('dynamite demo refuses a --duration too short for a scale up and a scale down', async () => {
  const child = spawn(process.execPath, [BIN, 'demo', '--duration', '5'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 2);
  assert.match(stderr, /--duration must be at least 40 seconds \(got 5\)/);
});
