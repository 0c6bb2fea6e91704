import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  HttpConfigError,
  checkBind,
  credentialsFromEnv,
  credentialsMatch,
  isLoopbackHost,
  parseHttpFlag,
  publicReadsFromEnv,
  startHttpServer,
  type RunningHttp,
} from '@dynamite/operator';
import { EngineHarness, waitFor, webServiceConfig } from '../support/engine-harness';
import { freePort } from '../support/ports';
import { REDIS_URL } from '../support/redis';
import { OperatorEnv, PASSWORD, STACK_LINE, USER, basic, runCli } from './support';

describe('--http values and the loopback rule', () => {
  test('parseHttpFlag accepts host:port, [v6]:port and off', () => {
    assert.deepEqual(parseHttpFlag('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseHttpFlag('localhost:0'), { host: 'localhost', port: 0 });
    assert.deepEqual(parseHttpFlag('[::1]:9000'), { host: '::1', port: 9000 });
    assert.deepEqual(parseHttpFlag('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
    assert.equal(parseHttpFlag('off'), null);
    assert.equal(parseHttpFlag('OFF'), null);
  });

  test('parseHttpFlag names the flag and the value for bad input', () => {
    assert.throws(() => parseHttpFlag('8080'), { name: 'HttpConfigError', message: '--http "8080": the host is missing; expected host:port (e.g. 127.0.0.1:8080, [::1]:8080) or "off"' });
    assert.throws(() => parseHttpFlag(':8080'), /--http ":8080": the host is missing/);
    assert.throws(() => parseHttpFlag('127.0.0.1:99999'), { message: '--http "127.0.0.1:99999": port must be 0..65535' });
    assert.throws(() => parseHttpFlag('127.0.0.1'), { message: '--http "127.0.0.1": expected host:port (e.g. 127.0.0.1:8080, [::1]:8080) or "off"' });
    assert.throws(() => parseHttpFlag('127.0.0.1:http'), /--http "127.0.0.1:http": expected host:port/);
    assert.throws(() => parseHttpFlag('[nothex]:80'), { message: '--http "[nothex]:80": "nothex" is not an IPv6 address' });
  });

  test('loopback is 127.0.0.0/8, ::1 and localhost; nothing else', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '192.168.1.10', '::ffff:10.0.0.1', 'example.com', 'localhost.example.com', '1.127.0.0']) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });

  test('checkBind refuses a non-loopback address without credentials, saying why and what to set', () => {
    assert.throws(() => checkBind({ host: '0.0.0.0', port: 8080 }, null), (err: unknown) => {
      assert.ok(err instanceof HttpConfigError);
      assert.equal(err.message,
        '--http 0.0.0.0:8080: refusing to serve the board and API on a non-loopback address without credentials ' +
        '(anyone who can reach it could retry or remove fleet actions); set DYNAMITE_HTTP_USER and DYNAMITE_HTTP_PASSWORD, or bind to 127.0.0.1');
      return true;
    });
    assert.doesNotThrow(() => checkBind({ host: '0.0.0.0', port: 8080 }, { user: 'a', password: 'b' }));
    assert.doesNotThrow(() => checkBind({ host: '127.0.0.1', port: 8080 }, null));
    assert.doesNotThrow(() => checkBind({ host: '::1', port: 8080 }, null));
  });

  test('blank credentials (only spaces) are refused, and never satisfy the loopback rule', () => {
    assert.throws(() => credentialsFromEnv({ DYNAMITE_HTTP_USER: 'ops', DYNAMITE_HTTP_PASSWORD: '   ' }), { name: 'HttpConfigError', message: 'DYNAMITE_HTTP_PASSWORD is blank (only spaces); set a real password' });
    assert.throws(() => credentialsFromEnv({ DYNAMITE_HTTP_USER: ' ', DYNAMITE_HTTP_PASSWORD: 'secret' }), { name: 'HttpConfigError', message: 'DYNAMITE_HTTP_USER is blank (only spaces); set a user name' });
    assert.throws(() => credentialsFromEnv({ DYNAMITE_HTTP_USER: 'ops', DYNAMITE_HTTP_PASSWORD: '\t \n' }), /DYNAMITE_HTTP_PASSWORD is blank/);
    for (const blank of [{ user: 'ops', password: '  ' }, { user: ' ', password: 'secret' }, { user: '', password: '' }]) {
      assert.throws(() => checkBind({ host: '0.0.0.0', port: 8080 }, blank), /refusing to serve the board and API on a non-loopback address without credentials/, JSON.stringify(blank));
    }
  });

  test('DYNAMITE_HTTP_PUBLIC_READS: yes or no, anything else is an error naming it', () => {
    for (const yes of ['1', 'true', 'YES', ' yes ']) assert.equal(publicReadsFromEnv({ DYNAMITE_HTTP_PUBLIC_READS: yes }), true, yes);
    for (const no of [undefined, '', '0', 'false', 'No']) assert.equal(publicReadsFromEnv({ DYNAMITE_HTTP_PUBLIC_READS: no }), false, String(no));
    assert.throws(() => publicReadsFromEnv({ DYNAMITE_HTTP_PUBLIC_READS: 'sure' }), { message: 'DYNAMITE_HTTP_PUBLIC_READS "sure": expected 1/true/yes or 0/false/no' });
  });

  test('credentials come from DYNAMITE_HTTP_USER and DYNAMITE_HTTP_PASSWORD, both or neither', () => {
    assert.equal(credentialsFromEnv({}), null);
    assert.equal(credentialsFromEnv({ DYNAMITE_HTTP_USER: '', DYNAMITE_HTTP_PASSWORD: '' }), null);
    assert.deepEqual(credentialsFromEnv({ DYNAMITE_HTTP_USER: 'u', DYNAMITE_HTTP_PASSWORD: 'p:w' }), { user: 'u', password: 'p:w' });
    assert.throws(() => credentialsFromEnv({ DYNAMITE_HTTP_USER: 'u' }), { message: 'DYNAMITE_HTTP_USER is set but DYNAMITE_HTTP_PASSWORD is not; set both (or neither)' });
    assert.throws(() => credentialsFromEnv({ DYNAMITE_HTTP_PASSWORD: 'p' }), { message: 'DYNAMITE_HTTP_PASSWORD is set but DYNAMITE_HTTP_USER is not; set both (or neither)' });
    assert.throws(() => credentialsFromEnv({ DYNAMITE_HTTP_USER: 'a:b', DYNAMITE_HTTP_PASSWORD: 'p' }), /must not contain ":"/);
  });

  test('credentialsMatch: only the exact user and password pass', () => {
    const expected = { user: USER, password: PASSWORD };
    assert.equal(credentialsMatch(basic(USER, PASSWORD), expected), true);
    assert.equal(credentialsMatch(`basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, expected), true);
    for (const header of [undefined, '', 'Basic', 'Bearer abc', basic(USER, `${PASSWORD}x`), basic(`${USER}x`, PASSWORD), basic('', ''), basic(USER, ''),
      `Basic ${Buffer.from(USER).toString('base64')}`, 'Basic !!!notbase64']) {
      assert.equal(credentialsMatch(header, expected), false, String(header));
    }
  });

  test('dynamite run refuses --http 0.0.0.0 without credentials: one line, exit 2, before connecting anywhere', async () => {
    // etcd and fleet point at closed ports: the refusal must come first.
    const r = await runCli(['run', '-e', '127.0.0.1:1', '-f', '127.0.0.1:1', '--http', '0.0.0.0:0'], { DYNAMITE_HTTP_USER: undefined, DYNAMITE_HTTP_PASSWORD: undefined });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr,
      'dynamite: --http 0.0.0.0:0: refusing to serve the board and API on a non-loopback address without credentials ' +
      '(anyone who can reach it could retry or remove fleet actions); set DYNAMITE_HTTP_USER and DYNAMITE_HTTP_PASSWORD, or bind to 127.0.0.1\n');
    assert.doesNotMatch(r.stderr, STACK_LINE);
  });

  test('the same through DYNAMITE_HTTP, and for the scheduler; bad values and half credentials are one line too', async () => {
    const viaEnv = await runCli(['scheduler', '-e', '127.0.0.1:1'], { DYNAMITE_HTTP: '10.1.2.3:8080', DYNAMITE_HTTP_USER: undefined, DYNAMITE_HTTP_PASSWORD: undefined });
    assert.equal(viaEnv.code, 2);
    assert.match(viaEnv.stderr, /^dynamite: --http 10\.1\.2\.3:8080: refusing to serve the board and API on a non-loopback address without credentials/);
    const bad = await runCli(['run', '-e', '127.0.0.1:1', '--http', 'nonsense']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'dynamite: --http "nonsense": expected host:port (e.g. 127.0.0.1:8080, [::1]:8080) or "off"\n');
    const half = await runCli(['run', '-e', '127.0.0.1:1', '--http', '0.0.0.0:0'], { DYNAMITE_HTTP_USER: 'op', DYNAMITE_HTTP_PASSWORD: undefined });
    assert.equal(half.code, 2);
    assert.equal(half.stderr, 'dynamite: DYNAMITE_HTTP_USER is set but DYNAMITE_HTTP_PASSWORD is not; set both (or neither)\n');
    const blank = await runCli(['run', '-e', '127.0.0.1:1', '--http', '0.0.0.0:0'], { DYNAMITE_HTTP_USER: 'op', DYNAMITE_HTTP_PASSWORD: '    ' });
    assert.equal(blank.code, 2);
    assert.equal(blank.stderr, 'dynamite: DYNAMITE_HTTP_PASSWORD is blank (only spaces); set a real password\n');
    for (const r of [viaEnv, bad, half, blank]) assert.doesNotMatch(r.stderr, STACK_LINE);
  });
});

describe('basic auth on a real scheduler', () => {
  let env: OperatorEnv;
  let open: RunningHttp;
  let locked: RunningHttp;
  let publicReads: RunningHttp;

  before(async () => {
    // The scheduler's own listener has no credentials (loopback); two more on the same engine have them, one with
    // public reads.
    env = await OperatorEnv.start('auth');
    open = { url: env.url } as RunningHttp;
    const targets = { ctx: env.scheduler!.ctx, etcd: { endpoint: env.etcdEndpoint }, redisUrl: REDIS_URL, watch: env.scheduler!.watch };
    locked = await startHttpServer(targets, { host: '127.0.0.1', port: 0, credentials: { user: USER, password: PASSWORD }, publicReads: false });
    publicReads = await startHttpServer(targets, { host: '127.0.0.1', port: 0, credentials: { user: USER, password: PASSWORD }, publicReads: true });
  });
  after(async () => {
    await locked?.close();
    await publicReads?.close();
    await env?.stop();
  });

  test('a non-loopback bind without credentials is refused by startHttpServer too, and nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    });
    await assert.rejects(
      startHttpServer({ ctx: env.scheduler!.ctx, etcd: { endpoint: env.etcdEndpoint }, redisUrl: REDIS_URL }, { host: '0.0.0.0', port, credentials: null }),
      (err: unknown) => err instanceof HttpConfigError && /refusing to serve the board and API on a non-loopback address without credentials/.test(err.message),
    );
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    assert.equal(connected, false);
  });

  test('an explicit address already in use is an error naming it', async () => {
    const { port } = new URL(locked.url);
    await assert.rejects(
      startHttpServer({ ctx: env.scheduler!.ctx, etcd: { endpoint: env.etcdEndpoint }, redisUrl: REDIS_URL }, { host: '127.0.0.1', port: Number(port), credentials: null }),
      { name: 'HttpConfigError', message: `--http 127.0.0.1:${port}: the address is already in use (another dynamite, or another program); pick another port` },
    );
  });

  test('auth on: the board without credentials is 401 with WWW-Authenticate and nothing else', async () => {
    for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/queue/actions', '/admin/queues/static/js/main.js',
      '/ADMIN/Queues/api/queues', '/Admin/queues', '/admin/queues/api/queues/', '/admin/queues/api/redis/stats']) {
      const res = await fetch(`${locked.url}${path}`);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="dynamite", charset="UTF-8"');
      assert.equal(await res.text(), '', path);
    }
  });

  test('auth on: wrong user, wrong password, or a malformed header are 401 too', async () => {
    for (const authorization of [basic(USER, 'wrong'), basic('someone', PASSWORD), basic(USER, ''), 'Bearer token', 'Basic %%%']) {
      const res = await fetch(`${locked.url}/admin/queues/api/queues`, { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.ok(res.headers.get('www-authenticate')?.startsWith('Basic '));
      assert.equal(await res.text(), '');
    }
  });

  test('auth on: the right credentials open the board and its API, which lists the four queues', async () => {
    const page = await fetch(`${locked.url}/admin/queues`, { headers: { authorization: basic(USER, PASSWORD) } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /<title>[^<]*<\/title>/);
    const api = await fetch(`${locked.url}/admin/queues/api/queues`, { headers: { authorization: basic(USER, PASSWORD) } });
    assert.equal(api.status, 200);
    const body = await api.json() as { queues: { name: string; description: string; allowRetries: boolean; readOnlyMode: boolean }[] };
    assert.deepEqual(body.queues.map((q) => q.name).sort(), ['actions', 'checks', 'maintenance', 'notifications']);
    const actions = body.queues.find((q) => q.name === 'actions')!;
    assert.equal(actions.allowRetries, true);
    assert.equal(actions.readOnlyMode, false);
    assert.match(actions.description, /fleet create\/destroy actions/);
    const notifications = body.queues.find((q) => q.name === 'notifications')!;
    assert.equal(notifications.allowRetries, true);
    assert.match(notifications.description, /Webhook deliveries/);
  });

  test('auth on: every mutating request needs credentials, on the board and elsewhere', async () => {
    const retry = await fetch(`${locked.url}/admin/queues/api/queues/actions/retry/failed`, { method: 'PUT' });
    assert.equal(retry.status, 401);
    assert.equal(await retry.text(), '');
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${locked.url}/api/services`, { method });
      assert.equal(res.status, 401, method);
      assert.equal(await res.text(), '');
    }
    const withAuth = await fetch(`${locked.url}/api/services`, { method: 'POST', headers: { authorization: basic(USER, PASSWORD) } });
    assert.equal(withAuth.status, 405);
    assert.deepEqual(await withAuth.json(), { error: 'POST /api/services is not allowed; use GET' });
    assert.equal(withAuth.headers.get('allow'), 'GET');
  });

  test('auth on: only /healthz and /readyz answer without credentials; every other path is 401', async () => {
    for (const path of ['/healthz', '/readyz', '/HEALTHZ', '/readyz/']) {
      const res = await fetch(`${locked.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('www-authenticate'), null);
    }
    for (const path of ['/metrics', '/api/services', '/api/services/web', '/api/services/web/decisions?limit=2', '/', '/nothing', '/API/Services',
      '/healthz/../api/services', '/readyz/x', '/metrics/']) {
      const res = await fetch(`${locked.url}${path}`);
      assert.equal(res.status, 401, path);
      assert.equal(await res.text(), '', path);
    }
    for (const method of ['POST', 'DELETE', 'OPTIONS']) assert.equal((await fetch(`${locked.url}/readyz`, { method })).status, 401, method);
    for (const path of ['/metrics', '/api/services', '/api/services/web/decisions?limit=2']) {
      const res = await fetch(`${locked.url}${path}`, { headers: { authorization: basic(USER, PASSWORD) } });
      assert.equal(res.status, 200, path);
    }
  });

  test('public reads: GET of /metrics and /api without credentials; the board and changes still need them', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/api/services', '/api/services/web', '/api/services/web/decisions?limit=2', '/']) {
      const res = await fetch(`${publicReads.url}${path}`);
      assert.equal(res.status, 200, path);
    }
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/ADMIN/queues']) assert.equal((await fetch(`${publicReads.url}${path}`)).status, 401, path);
    for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await fetch(`${publicReads.url}/api/services`, { method })).status, 401, method);
    assert.equal((await fetch(`${publicReads.url}/admin/queues/api/queues/actions/retry/failed`, { method: 'PUT' })).status, 401);
    const root = await fetch(`${publicReads.url}/`);
    assert.equal(((await root.json()) as { auth: string }).auth, 'basic (board and changes; reads are public)');
  });

  test('security headers on the board and the API: no sniffing, no framing, no referrer, no caching of answers', async () => {
    const auth = { authorization: basic(USER, PASSWORD) };
    for (const [base, path, headers] of [[locked.url, '/api/services', auth], [locked.url, '/admin/queues', auth], [locked.url, '/metrics', auth],
      [locked.url, '/readyz', {}], [locked.url, '/api/services', {}], [open.url, '/api/services/web/decisions', {}], [open.url, '/admin/queues/api/queues', {}]] as const) {
      const res = await fetch(`${base}${path}`, { headers });
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(res.headers.get('content-security-policy'), "frame-ancestors 'none'", path);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(res.headers.get('cache-control'), 'no-store', path);
    }
  });

  test('auth off (loopback): the board and its API answer without credentials; mutating requests get their real answer', async () => {
    const page = await fetch(`${open.url}/admin/queues`);
    assert.equal(page.status, 200);
    const api = await fetch(`${open.url}/admin/queues/api/queues`);
    assert.equal(api.status, 200);
    assert.equal(((await api.json()) as { queues: unknown[] }).queues.length, 4);
    const post = await fetch(`${open.url}/api/services`, { method: 'POST' });
    assert.equal(post.status, 405);
    const root = await fetch(`${open.url}/`);
    assert.equal(((await root.json()) as { auth: string }).auth, 'none (loopback only)');
    const lockedRoot = await fetch(`${locked.url}/`, { headers: { authorization: basic(USER, PASSWORD) } });
    assert.equal(((await lockedRoot.json()) as { auth: string }).auth, 'basic (all but /healthz and /readyz)');
  });
});

describe('dynamite scheduler --http_public_reads / DYNAMITE_HTTP_PUBLIC_READS', () => {
  let h: EngineHarness;

  before(async () => {
    h = await EngineHarness.start({ suite: 'public-reads', ...webServiceConfig(), env: { DYNAMITE_HTTP_USER: USER, DYNAMITE_HTTP_PASSWORD: PASSWORD } });
  });
  after(async () => { await h?.stop(); });

  /** Starts a scheduler with credentials and `extra`, and answers what /api/services and the board say without them. */
  async function unauthenticated(extra: string[], env: Record<string, string> = {}): Promise<{ api: number; board: number; readyz: number }> {
    const port = await freePort();
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const scheduler = h.spawn('scheduler', ['--http', `127.0.0.1:${port}`, ...extra]);
    process.env = saved;
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${url}/healthz`)).status === 200, 20_000, 'the listener is up', h);
      // The listener answers before the elected scheduler has stored the config: wait until the API has it.
      await waitFor(async () => (await fetch(`${url}/api/services`, { headers: { authorization: basic(USER, PASSWORD) } })).status === 200, 20_000, 'the engine state readable', h);
      const status = async (path: string) => (await fetch(`${url}${path}`)).status;
      return { api: await status('/api/services'), board: await status('/admin/queues'), readyz: await status('/healthz') };
    } finally {
      await h.kill(scheduler, 'SIGTERM');
    }
  }

  test('with credentials, reads need them unless --http_public_reads or DYNAMITE_HTTP_PUBLIC_READS opens them; the board never', async () => {
    assert.deepEqual(await unauthenticated([]), { api: 401, board: 401, readyz: 200 });
    assert.deepEqual(await unauthenticated(['--http_public_reads']), { api: 200, board: 401, readyz: 200 });
    assert.deepEqual(await unauthenticated([], { DYNAMITE_HTTP_PUBLIC_READS: '1' }), { api: 200, board: 401, readyz: 200 });
  });
});
