import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Etcd3 } from 'etcd3';
import { waitFor } from '../support/engine-harness';
import { runCli } from '../operator/support';
import { SecureEtcd, SecureRedis, engineFixture, makeCertificates, spawnDynamite, tempDir, type Certificates } from './support';

// The rule: the engine runs against secured servers -- etcd with TLS client certificates or with user/password auth,
// Redis with a password and TLS -- given the flags (--etcd_ca/--etcd_cert/--etcd_key, --etcd_user/--etcd_password,
// --redis_url rediss://:PASSWORD@...; a private CA through NODE_EXTRA_CA_CERTS), and a wrong password or certificate
// is one line saying which server and what to fix, exit code 1, never a stack trace or a hang. The servers are real,
// started here with certificates made by openssl.

const ETCD_USER = 'dynamite';
const ETCD_PASSWORD = 'engine password';
const REDIS_PASSWORD = 'redis password';

describe('dynamite run against secured etcd and Redis', () => {
  let dir: string;
  let certs: Certificates;
  let fixture: Awaited<ReturnType<typeof engineFixture>>;
  let tlsEtcd: SecureEtcd;
  let authEtcd: SecureEtcd;
  let tlsRedis: SecureRedis;
  let passwordRedis: SecureRedis;

  before(async () => {
    dir = tempDir('servers');
    certs = makeCertificates(dir);
    fixture = await engineFixture(dir);
    [tlsEtcd, authEtcd, tlsRedis, passwordRedis] = await Promise.all([
      SecureEtcd.start(dir, { tls: certs }),
      SecureEtcd.start(dir, { auth: { user: ETCD_USER, password: ETCD_PASSWORD } }),
      SecureRedis.start(dir, { password: REDIS_PASSWORD, tls: certs }),
      SecureRedis.start(dir, { password: REDIS_PASSWORD }),
    ]);
  });
  after(async () => {
    await Promise.all([tlsEtcd?.stop(), authEtcd?.stop(), tlsRedis?.stop(), passwordRedis?.stop()]);
    await fixture?.emulator.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const common = () => ['-c', fixture.configFile, '-f', fixture.emulator.url, '--http', 'off'];

  /** `dynamite run` scales web up on breaching samples written through `etcd`; the run is stopped afterwards. */
  async function scalesUp(name: string, etcd: SecureEtcd, redis: SecureRedis, env: Record<string, string> = {}): Promise<void> {
    const prefix = `${fixture.prefix}-${name}`;
    const run = spawnDynamite(dir, name, ['run', ...common(), ...etcd.flags, '--redis_url', redis.url, '--queue_prefix', prefix], env);
    const client: Etcd3 = etcd.client();
    try {
      const launched = async () => (await fixture.fleet.listUnits()).filter((u) => u.currentState === 'launched').map((u) => u.name);
      await waitFor(async () => (await launched()).includes('web@8080.service'), 30_000, `${name}: min instance launched\n${run.log().slice(-2000)}`);
      await client.put('/services/webserver/u-sec/service_instance_name').value('web@8080.service');
      await waitFor(async () => {
        await client.put(`/metrics/webserver/u-sec/cpu_user/${new Date().toISOString()}`).value('99');
        return (await launched()).includes('web@8081.service');
      }, 30_000, `${name}: a breaching sample scaled web up\n${run.log().slice(-2000)}`);
      // Its state and queues are where they should be: etcd holds the engine's records, Redis the queues.
      assert.equal(await client.get('/_dynamite/state/application_status').string(), 'Running');
      const queues = redis.client();
      try {
        assert.ok((await queues.keys(`${prefix}:*`)).length > 0, 'the queues are in the secured Redis');
      } finally {
        queues.disconnect();
      }
    } finally {
      client.close();
      await run.stop();
      // The next run starts from nothing: no units, no records.
      for (const unit of await fixture.fleet.listUnits()) await fixture.fleet.destroyUnit(unit.name);
      const wipe = etcd.client();
      await wipe.delete().all();
      wipe.close();
    }
  }

  test('etcd with TLS client certificates, Redis with TLS and a password: a sample scales up through the emulator', async () => {
    await scalesUp('tls', tlsEtcd, tlsRedis, { NODE_EXTRA_CA_CERTS: certs.ca });
  });

  test('etcd with user/password auth, Redis with a password: a sample scales up through the emulator', async () => {
    await scalesUp('auth', authEtcd, passwordRedis);
  });

  /** `dynamite run` that must fail at start: exit 1 and exactly one line on stderr. */
  async function failsWith(args: string[], line: string, env: Record<string, string> = {}): Promise<void> {
    // At the default log level: nothing else is printed before the error.
    const r = await runCli(['run', ...common(), '--queue_prefix', `${fixture.prefix}-fail`, ...args], { DYNAMITE_LOG_LEVEL: 'info', ...env }, 60_000);
    assert.equal(r.stderr, `${line}\n`);
    assert.equal(r.code, 1);
  }

  const plainRedis = () => ['--redis_url', passwordRedis.url];
  const goodEtcd = () => authEtcd.flags;

  test('etcd: a client certificate of another CA, or none, is refused -- one line', async () => {
    const refused = `dynamite: cannot use etcd at ${tlsEtcd.endpoint}: etcd refused the client certificate: --etcd_cert/--etcd_key must be signed by a CA etcd trusts (--trusted-ca-file)`;
    await failsWith(['-e', tlsEtcd.endpoint, '--etcd_ca', certs.ca, '--etcd_cert', certs.rogueCert, '--etcd_key', certs.rogueKey, ...plainRedis()], refused);
    await failsWith(['-e', tlsEtcd.endpoint, '--etcd_ca', certs.ca, ...plainRedis()], refused);
  });

  test("etcd: a server certificate the CA given does not vouch for -- one line", async () => {
    await failsWith(['-e', tlsEtcd.endpoint, '--etcd_ca', certs.rogueCert, '--etcd_cert', certs.clientCert, '--etcd_key', certs.clientKey, ...plainRedis()],
      `dynamite: cannot use etcd at ${tlsEtcd.endpoint}: etcd's certificate is not trusted: unable to verify the first certificate (check --etcd_ca)`);
  });

  test('etcd: a wrong password, or none, -- one line', async () => {
    await failsWith(['-e', authEtcd.endpoint, '--etcd_user', ETCD_USER, '--etcd_password', 'wrong', ...plainRedis()],
      `dynamite: cannot use etcd at ${authEtcd.endpoint}: authentication failed: wrong --etcd_user or --etcd_password`);
    await failsWith(['-e', authEtcd.endpoint, ...plainRedis()],
      `dynamite: cannot use etcd at ${authEtcd.endpoint}: etcd requires authentication: set --etcd_user and --etcd_password`);
  });

  test('Redis: a wrong password, or none, -- one line with the password hidden', async () => {
    await failsWith([...goodEtcd(), '--redis_url', `redis://:wrong@127.0.0.1:${passwordRedis.port}`],
      `dynamite: cannot use Redis at redis://:***@127.0.0.1:${passwordRedis.port}: wrong password or user (WRONGPASS): check the one in --redis_url`);
    await failsWith([...goodEtcd(), '--redis_url', `rediss://127.0.0.1:${tlsRedis.port}`],
      `dynamite: cannot use Redis at rediss://127.0.0.1:${tlsRedis.port}: Redis requires a password: put it in --redis_url (rediss://:PASSWORD@host:port)`,
      { NODE_EXTRA_CA_CERTS: certs.ca });
  });

  test('Redis over TLS: an untrusted certificate, or a plain redis:// URL to the TLS port -- one line', async () => {
    await failsWith([...goodEtcd(), '--redis_url', tlsRedis.url],
      `dynamite: cannot use Redis at rediss://:***@127.0.0.1:${tlsRedis.port}: its TLS certificate is not trusted: self-signed certificate in certificate chain (for a private CA, set NODE_EXTRA_CA_CERTS=/path/to/ca.pem)`);
    await failsWith([...goodEtcd(), '--redis_url', `redis://:${encodeURIComponent(REDIS_PASSWORD)}@127.0.0.1:${tlsRedis.port}`],
      `dynamite: cannot use Redis at redis://:***@127.0.0.1:${tlsRedis.port}: the connection was reset: is this a TLS port? use rediss://`);
  });

  test('a TLS file that cannot be read names its flag -- one line, exit 2', async () => {
    const r = await runCli(['run', ...common(), '-e', tlsEtcd.endpoint, '--etcd_ca', `${dir}/missing.pem`, ...plainRedis()], {}, 30_000);
    assert.equal(r.stderr, `dynamite: --etcd_ca ${dir}/missing.pem: cannot read it (ENOENT)\n`);
    assert.equal(r.code, 2);
  });
});
