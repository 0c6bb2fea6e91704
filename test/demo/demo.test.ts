import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import IORedis from 'ioredis';

// `dynamite demo`, end to end, as a user runs it: a short version (60 s of traffic) as a child process. It must
// scale the web service up and back down, exit 0, and leave nothing behind (processes, run dir, queue keys).

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

test('dynamite demo scales up and back down, prints a summary and exits 0', { timeout: 240_000 }, async () => {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, 'demo', '--duration', String(DURATION_S)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString('utf8'); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString('utf8'); });
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
