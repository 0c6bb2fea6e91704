import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { YAML11_SCHEMA, load } from 'js-yaml';

// docker-compose.yml, Dockerfile and .dockerignore. No Docker engine runs here: the compose file is validated with
// Debian's docker-compose 1.29 (`config -q`, offline) when it is installed (scripts/test.sh installs it), and its
// content is checked on the parsed YAML either way.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const COMPOSE = path.join(ROOT, 'docker-compose.yml');
const CREDENTIALS = { DYNAMITE_HTTP_USER: 'admin', DYNAMITE_HTTP_PASSWORD: 'test-only-password' };

type Service = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function composeTool(): string | null {
  const r = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function compose(args: string[], env: NodeJS.ProcessEnv) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DYNAMITE_')));
  return spawnSync('docker-compose', ['-f', COMPOSE, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...clean, ...env } });
}

describe('docker-compose.yml validated by docker-compose itself', () => {
  const version = composeTool();
  if (version === null) {
    const warning =
      '\n************************************************************************************************\n' +
      '* docker-compose IS NOT INSTALLED: docker-compose.yml was NOT validated by docker-compose.          *\n' +
      '* Only the YAML assertions ran. Install it (apt-get install docker-compose, or bash scripts/test.sh). *\n' +
      '************************************************************************************************\n';
    process.stderr.write(warning);
    test('docker-compose config -q (SKIPPED: docker-compose is not installed)', { skip: 'docker-compose is not installed' }, () => {});
    return;
  }

  test(`docker-compose ${version}: config -q accepts the file (with the board credentials set)`, () => {
    const r = compose(['config', '-q'], CREDENTIALS);
    assert.equal(r.status, 0, `docker-compose config -q failed:\n${r.stderr}${r.stdout}`);
  });

  test('config -q accepts the demo profile too, and it adds the fleet emulator and traffic', () => {
    const r = compose(['--profile', 'demo', 'config', '-q'], CREDENTIALS);
    assert.equal(r.status, 0, `docker-compose --profile demo config -q failed:\n${r.stderr}${r.stdout}`);
    const services = compose(['--profile', 'demo', 'config', '--services'], CREDENTIALS);
    assert.equal(services.status, 0, services.stderr);
    assert.deepEqual(services.stdout.trim().split('\n').sort(), ['etcd', 'fleet-emulator', 'redis', 'scheduler', 'scheduler-2', 'traffic', 'worker']);
  });

  test('without board credentials the file refuses to resolve, naming the variables', () => {
    const r = compose(['config', '-q'], {});
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /DYNAMITE_HTTP_USER and DYNAMITE_HTTP_PASSWORD/);
  });
});

describe('docker-compose.yml content', () => {
  const text = fs.readFileSync(COMPOSE, 'utf8');
  const doc = load(text, { schema: YAML11_SCHEMA }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const services = doc.services;

  test('only keys docker-compose 1.29 accepts: no top-level name:, start_interval, depends_on required, develop', () => {
    assert.equal(Object.prototype.hasOwnProperty.call(doc, 'name'), false);
    assert.doesNotMatch(text, /^\s*start_interval:/m);
    assert.doesNotMatch(text, /^\s*required:/m);
    assert.doesNotMatch(text, /^\s*develop:/m);
  });

  test('redis, etcd, two schedulers and worker are there; the demo profile has the fleet emulator and traffic', () => {
    for (const name of ['redis', 'etcd', 'scheduler', 'scheduler-2', 'worker', 'fleet-emulator', 'traffic']) assert.ok(services[name], `service ${name}`);
    assert.deepEqual(services['fleet-emulator']!.profiles, ['demo']);
    assert.deepEqual(services.traffic!.profiles, ['demo']);
    for (const name of ['redis', 'etcd', 'scheduler', 'scheduler-2', 'worker']) assert.equal(services[name]!.profiles, undefined, `${name} runs without a profile`);
  });

  test('two schedulers for the leader election: same command and config, their own names, their own host ports', () => {
    const [one, two] = [services.scheduler!, services['scheduler-2']!];
    assert.deepEqual(two.command, one.command);
    assert.deepEqual(two.volumes, one.volumes);
    assert.equal(one.environment.DYNAMITE_SCHEDULER_ID, 'scheduler-1');
    assert.equal(two.environment.DYNAMITE_SCHEDULER_ID, 'scheduler-2');
    for (const s of [one, two]) {
      assert.equal(s.environment.DYNAMITE_CONFIG_FILE, '/etc/dynamite/config.yaml');
      assert.match(s.environment.DYNAMITE_LEADER_TTL, /^\$\{DYNAMITE_LEADER_TTL:-5\}$/);
      assert.match(s.environment.DYNAMITE_HTTP_USER, /^\$\{DYNAMITE_HTTP_USER:\?/);
      assert.equal(s.restart, 'unless-stopped');
    }
    assert.deepEqual(two.ports, ['${DYNAMITE_HTTP_PUBLISH_2:-127.0.0.1:8081}:8080']);
  });

  test('two worker replicas', () => {
    assert.equal(services.worker!.deploy.replicas, 2);
  });

  test('redis: noeviction and AOF on, with a volume', () => {
    const command = (services.redis!.command as string[]).join(' ');
    assert.match(command, /--maxmemory-policy noeviction/);
    assert.match(command, /--appendonly yes/);
    assert.ok((services.redis!.volumes as string[]).some((v) => v.endsWith(':/data')));
  });

  test('every long-running service has a health check and a restart policy', () => {
    for (const name of ['redis', 'etcd', 'scheduler', 'scheduler-2', 'worker', 'fleet-emulator']) {
      const hc = services[name]!.healthcheck;
      assert.ok(hc && Array.isArray(hc.test) && hc.test.length > 1, `${name} has a healthcheck`);
      assert.ok(hc.interval && hc.timeout && hc.retries, `${name} healthcheck has interval, timeout, retries`);
    }
    for (const name of Object.keys(services)) assert.equal(services[name]!.restart, 'unless-stopped', `${name} restart policy`);
  });

  test('engine services wait for healthy Redis and etcd and take their endpoints from the environment', () => {
    for (const name of ['scheduler', 'scheduler-2', 'worker']) {
      const s = services[name]!;
      assert.equal(s.depends_on.redis.condition, 'service_healthy');
      assert.equal(s.depends_on.etcd.condition, 'service_healthy');
      assert.match(s.environment.DYNAMITE_REDIS_URL, /redis:\/\/redis:6379/);
      assert.match(s.environment.DYNAMITE_ETCD_ENDPOINT, /etcd:2379/);
      assert.ok(s.environment.DYNAMITE_FLEET_ENDPOINT);
    }
  });

  test('the scheduler serves the board with credentials from the environment, published on loopback by default', () => {
    const s = services.scheduler!;
    assert.deepEqual(s.command, ['scheduler', '--http', '0.0.0.0:8080']);
    assert.match(s.environment.DYNAMITE_HTTP_USER, /^\$\{DYNAMITE_HTTP_USER:\?/);
    assert.match(s.environment.DYNAMITE_HTTP_PASSWORD, /^\$\{DYNAMITE_HTTP_PASSWORD:\?/);
    assert.ok((s.ports as string[]).every((p) => p.includes('127.0.0.1:8080')), 'published on 127.0.0.1 unless DYNAMITE_HTTP_PUBLISH says otherwise');
    assert.match(s.healthcheck.test.join(' '), /\/healthz/);
  });

  test('the fleet emulator port is never published; traffic shares its network', () => {
    assert.equal(services['fleet-emulator']!.ports, undefined);
    assert.equal(services.traffic!.network_mode, 'service:fleet-emulator');
  });

  test('the demo config the compose file mounts is valid', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'dynamite.js'), 'validate', '-c', path.join(ROOT, 'examples/demo/compose/config.yaml'),
      '-s', path.join(ROOT, 'examples/demo/compose/service-files')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const runtime = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/demo/compose/runtime.json'), 'utf8')) as { etcdHosts: string[] };
    assert.deepEqual(runtime.etcdHosts, ['http://etcd:2379']);
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

  test('multi-stage: a build stage with dev dependencies, a runtime with production dependencies only', () => {
    const stages = instructions.filter((l) => l.startsWith('FROM '));
    assert.ok(stages.length >= 3, 'at least build, production deps and runtime stages');
    assert.match(dockerfile, /AS build\n/);
    assert.match(dockerfile, /npm ci --no-audit --no-fund --ignore-scripts\n/, 'the build stage installs dev dependencies');
    assert.match(dockerfile, /npm ci --omit=dev/, 'production dependencies only for the runtime');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(runtime, /COPY --from=prod-deps \/app\/node_modules/);
    assert.doesNotMatch(runtime, /COPY --from=build \/app\/node_modules/, 'no dev node_modules in the runtime image');
  });

  test('runs as a non-root user, with the dynamite entrypoint', () => {
    const users = instructions.filter((l) => l.startsWith('USER '));
    assert.ok(users.length > 0, 'a USER instruction');
    const last = users[users.length - 1]!.slice(5).trim();
    assert.notEqual(last, 'root');
    assert.notEqual(last, '0');
    const lastFrom = instructions.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0).pop()!;
    assert.ok(instructions.indexOf(users[users.length - 1]!) > lastFrom, 'USER is set in the final stage');
    assert.ok(instructions.includes('ENTRYPOINT ["node","bin/dynamite.js"]'));
  });

  test('every workspace package.json is copied before npm ci (npm ci needs them all)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    for (const pattern of pkg.workspaces) {
      const dir = pattern.replace(/\/\*$/, '');
      for (const name of fs.readdirSync(path.join(ROOT, dir))) {
        if (!fs.existsSync(path.join(ROOT, dir, name, 'package.json'))) continue;
        assert.match(dockerfile, new RegExp(`COPY ${dir}/${name}/package\\.json ${dir}/${name}/`), `${dir}/${name}/package.json`);
      }
    }
  });

  test('.dockerignore keeps node_modules, dist, .git and tests out of the build context', () => {
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['.git', '**/node_modules', '**/dist', 'test']) assert.ok(ignore.includes(entry), entry);
    assert.ok(!ignore.includes('examples'), 'examples are needed in the image');
    assert.ok(!ignore.includes('bin'), 'bin is needed in the image');
  });
});
