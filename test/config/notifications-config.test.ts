import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  notificationEventOf,
  parseConfig,
  signatureOf,
  verifySignature,
  webhookRequest,
  webhooksFor,
  type DecisionRecord,
  type DynamiteConfig,
} from '@dynamite/domain';
import { expectErrors, expectValid } from './support';

const BASE = `
Dynamite:
  ETCD:
    application_base_path: /services
    metrics_base_path: /metrics
  Service:
    web:
      name_of_unit_file: web@.service
      max_instance: 3
      base_instance_prefix_number: 8080
      attached_service: [web_disc]
    web_disc:
      name_of_unit_file: web_disc@.service
      type: attached_service
    api:
      name_of_unit_file: api@.service
      max_instance: 2
      base_instance_prefix_number: 9000
`;

function withNotifications(section: string): string {
  return `${BASE}  Notifications:\n${section.replace(/^\n/, '').split('\n').map((l) => (l === '' ? l : `    ${l}`)).join('\n')}\n`;
}

const ok = (text: string): DynamiteConfig => expectValid(parseConfig(text));
const errors = (text: string): string[] => expectErrors(parseConfig(text));

const record = (over: Partial<DecisionRecord>): DecisionRecord => ({
  id: 'rec-1', at: 1, service: 'web', policy: null, machine: null, direction: 'up', outcome: 'scaled', reason: null, rule: null,
  inputs: {}, action: null, message: 'm', ...over,
});

describe('Notifications in the config', () => {
  test('absent: no webhooks (an original config means what it meant)', () => {
    assert.deepEqual(ok(BASE).notifications, { webhooks: [] });
  });

  test('a full webhook and a minimal one: defaults for events (all), services (all) and timeout (5 s)', () => {
    const config = ok(withNotifications(`
webhooks:
  ops:
    url: https://hooks.example.com/dynamite?team=ops
    secret_env: DYNAMITE_WEBHOOK_SECRET
    events: [decision, action]
    services: [web]
    timeout: 2
    timeout_unit: second
  audit:
    url: http://127.0.0.1:9999/
    secret_env: AUDIT_SECRET
`));
    assert.deepEqual(config.notifications.webhooks, [
      { name: 'ops', url: 'https://hooks.example.com/dynamite?team=ops', secret: null, secretEnv: 'DYNAMITE_WEBHOOK_SECRET', events: ['decision', 'action'], services: ['web'], timeoutMs: 2_000 },
      { name: 'audit', url: 'http://127.0.0.1:9999/', secret: null, secretEnv: 'AUDIT_SECRET', events: ['decision', 'action', 'config'], services: null, timeoutMs: 5_000 },
    ]);
  });

  test('a secret written in the config works, with a warning that etcd stores it in clear', () => {
    const parsed = parseConfig(withNotifications(`
webhooks:
  ops:
    url: https://hooks.example.com/
    secret: 0123456789abcdef
`));
    assert.ok(parsed.ok);
    assert.equal(parsed.config.notifications.webhooks[0]!.secret, '0123456789abcdef');
    assert.ok(parsed.config.warnings.some((w) => w.path === 'Notifications.webhooks.ops.secret' && /in clear/.test(w.message)));
  });

  test('every mistake is one error naming its key', () => {
    const found = errors(withNotifications(`
webhooks:
  a:
    url: ftp://example.com/x
    secret: short
    events: [decision, actions, decision]
    services: [web, nope, web_disc]
    timeout: 60
  b:
    url: https://user:pw@example.com/
  c:
    url: not a url
    secret: 0123456789abcdef
    secret_env: ALSO
  d:
    secret_env: 1BAD
    urll: https://x/
`));
    assert.deepEqual(found, [
      'Notifications.webhooks.a.events[1]: unknown event "actions"; events are decision, action, config; did you mean "action"?',
      'Notifications.webhooks.a.events[2]: "decision" is listed twice',
      'Notifications.webhooks.a.secret: must be at least 16 characters (got 5)',
      'Notifications.webhooks.a.services[1]: unknown service "nope"',
      'Notifications.webhooks.a.services[2]: "web_disc" is an attached service: its units are decided with its parent\'s, whose records the webhook gets',
      'Notifications.webhooks.a.timeout: must be at most 30 seconds (got 60 second)',
      'Notifications.webhooks.a.url: must be an http or https URL (got "ftp")',
      'Notifications.webhooks.b: needs secret_env (the environment variable of the workers holding the signing key) or secret',
      'Notifications.webhooks.b.url: must not carry a user name or password: the config is stored in etcd in clear (receivers check the signature instead)',
      'Notifications.webhooks.c.secret: give secret or secret_env, not both',
      'Notifications.webhooks.c.url: must be an absolute http or https URL (got "not a url")',
      'Notifications.webhooks.d.secret_env: must be an environment variable name (letters, digits, "_", not starting with a digit; got "1BAD")',
      'Notifications.webhooks.d.url: is required (the http or https URL to post to)',
      'Notifications.webhooks.d.urll: unknown key; did you mean "url"?',
    ]);
  });

  test('the section and its list have their shapes checked', () => {
    assert.deepEqual(errors(`${BASE}  Notifications: [a]\n`), ['Notifications: must be a mapping with the key webhooks (got a list)']);
    assert.deepEqual(errors(`${BASE}  Notifications:\n    webhook: {}\n`), ['Notifications.webhook: unknown key; did you mean "webhooks"?']);
    assert.deepEqual(errors(`${BASE}  Notifications:\n    webhooks: [x]\n`), ['Notifications.webhooks: must be a mapping of webhook names to their settings (got a list)']);
    assert.deepEqual(errors(withNotifications(`
webhooks:
  "a b":
    url: https://x.example/
    secret_env: S
`)), ['Notifications.webhooks."a b": webhook name may only contain letters, digits, ":", "_", ".", "-"']);
  });

  test('which webhooks get a record: by its event and service', () => {
    const config = ok(withNotifications(`
webhooks:
  all:
    url: https://a.example/
    secret_env: S
  actions_of_api:
    url: https://b.example/
    secret_env: S
    events: [action]
    services: [api]
`));
    const names = (r: DecisionRecord) => webhooksFor(config, r).map((w) => `${w.webhook.name}:${w.event}`);
    assert.deepEqual(names(record({ outcome: 'scaled' })), ['all:decision']);
    assert.deepEqual(names(record({ outcome: 'bound_repair', service: 'api' })), ['all:decision']);
    assert.deepEqual(names(record({ outcome: 'action_done', service: 'api' })), ['all:action', 'actions_of_api:action']);
    assert.deepEqual(names(record({ outcome: 'action_failed', service: 'web' })), ['all:action']);
    assert.deepEqual(names(record({ outcome: 'reconfigured' })), ['all:config']);
    for (const outcome of ['armed', 'disarmed', 'resync', 'notify_failed'] as const) {
      assert.equal(notificationEventOf(record({ outcome })), null, outcome);
      assert.deepEqual(names(record({ outcome })), []);
    }
  });
});

describe('webhook signatures', () => {
  test('X-Dynamite-Signature is the HMAC-SHA256 of the raw body; the timestamp header is the signed sentAt', () => {
    const secret = 'a-secret-of-sixteen';
    const { body, headers } = webhookRequest(secret, {
      id: 'webhook|ops|web|rec-1', event: 'decision', webhook: 'ops', service: 'web', sentAt: 1_700_000_000_000, attempt: 1, record: record({}),
    });
    // Independently of the engine's helper: what a receiver computes.
    const { createHmac } = require('node:crypto') as typeof import('node:crypto');
    assert.equal(headers['X-Dynamite-Signature'], `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
    assert.equal(headers['X-Dynamite-Timestamp'], '1700000000000');
    assert.equal((JSON.parse(body) as { sentAt: number }).sentAt, 1_700_000_000_000);
    assert.equal(headers['X-Dynamite-Delivery'], 'webhook|ops|web|rec-1');
    assert.equal(headers['X-Dynamite-Event'], 'decision');
    assert.equal(verifySignature(secret, body, headers['X-Dynamite-Signature']), true);
    assert.equal(verifySignature(secret, `${body} `, headers['X-Dynamite-Signature']), false, 'another body');
    assert.equal(verifySignature('another-secret-16', body, headers['X-Dynamite-Signature']), false, 'another secret');
    assert.equal(verifySignature(secret, body, undefined), false);
    assert.equal(verifySignature(secret, body, 'sha256=00'), false);
    assert.equal(signatureOf(secret, Buffer.from(body)), headers['X-Dynamite-Signature']);
  });
});
