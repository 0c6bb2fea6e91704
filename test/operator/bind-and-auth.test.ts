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
  startHttpServer,
  type RunningHttp,
} from '@dynamite/operator';
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
    for (const r of [viaEnv, bad, half]) assert.doesNotMatch(r.stderr, STACK_LINE);
  });
});

describe('basic auth on a real scheduler', () => {
  let env: OperatorEnv;
  let open: RunningHttp;
  let locked: RunningHttp;

  before(async () => {
    // The scheduler's own listener has no credentials (loopback); a second one on the same engine has them.
    env = await OperatorEnv.start('auth');
    open = { url: env.url } as RunningHttp;
    locked = await startHttpServer({ ctx: env.scheduler!.ctx, redis: env.scheduler!.redis, watch: env.scheduler!.watch }, {
      host: '127.0.0.1', port: 0, credentials: { user: USER, password: PASSWORD },
    });
  });
  after(async () => {
    await locked?.close();
    await env?.stop();
  });

  test('a non-loopback bind without credentials is refused by startHttpServer too, and nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    });
    await assert.rejects(
      startHttpServer({ ctx: env.scheduler!.ctx, redis: env.scheduler!.redis }, { host: '0.0.0.0', port, credentials: null }),
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
      startHttpServer({ ctx: env.scheduler!.ctx, redis: env.scheduler!.redis }, { host: '127.0.0.1', port: Number(port), credentials: null }),
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

  test('auth on: the right credentials open the board and its API, which lists the three queues', async () => {
    const page = await fetch(`${locked.url}/admin/queues`, { headers: { authorization: basic(USER, PASSWORD) } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /<title>[^<]*<\/title>/);
    const api = await fetch(`${locked.url}/admin/queues/api/queues`, { headers: { authorization: basic(USER, PASSWORD) } });
    assert.equal(api.status, 200);
    const body = await api.json() as { queues: { name: string; description: string; allowRetries: boolean; readOnlyMode: boolean }[] };
    assert.deepEqual(body.queues.map((q) => q.name).sort(), ['actions', 'checks', 'maintenance']);
    const actions = body.queues.find((q) => q.name === 'actions')!;
    assert.equal(actions.allowRetries, true);
    assert.equal(actions.readOnlyMode, false);
    assert.match(actions.description, /fleet create\/destroy actions/);
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

  test('auth on: read-only endpoints stay open for probes and scrapers', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/api/services', '/api/services/web/decisions?limit=2']) {
      const res = await fetch(`${locked.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('www-authenticate'), null);
    }
  });

  test('auth off (loopback): the board and its API answer without credentials; mutating requests get their real answer', async () => {
    const page = await fetch(`${open.url}/admin/queues`);
    assert.equal(page.status, 200);
    const api = await fetch(`${open.url}/admin/queues/api/queues`);
    assert.equal(api.status, 200);
    assert.equal(((await api.json()) as { queues: unknown[] }).queues.length, 3);
    const post = await fetch(`${open.url}/api/services`, { method: 'POST' });
    assert.equal(post.status, 405);
    const root = await fetch(`${open.url}/`);
    assert.equal(((await root.json()) as { auth: string }).auth, 'none (loopback only)');
    const lockedRoot = await fetch(`${locked.url}/`);
    assert.equal(((await lockedRoot.json()) as { auth: string }).auth, 'basic (board and mutating requests)');
  });
});
