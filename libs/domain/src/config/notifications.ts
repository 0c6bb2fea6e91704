import type { ConfigWarning, NotificationEvent, NotificationsConfig, ServiceConfig, TimeUnit, WebhookConfig } from './types';
import { joinPath, type ConfigError } from './errors';
import { describe, isMapping, positiveNumber, text, textList, timeUnit } from './scalars';
import { durationMs } from './durations';
import { nameProblem, quote } from './names';
import { didYouMean } from './suggest';

/**
 * The optional `Notifications:` section: webhooks told about decisions, fleet action ends and config changes,
 * each signed with HMAC-SHA256 (docs/notifications.md). Absent, nothing is sent: an original config means what it
 * meant. Unknown keys are reported by known-keys.ts; this checks the values and the service names they refer to.
 *
 *   Notifications:
 *     webhooks:
 *       ops:                                   # the webhook's name (job ids, records, the board)
 *         url: https://hooks.example.com/dynamite
 *         secret_env: DYNAMITE_WEBHOOK_SECRET  # or secret: <at least 16 characters>
 *         events: [decision, action, config]   # default: all
 *         services: [web]                      # default: every service
 *         timeout: 5                           # default 5 seconds, at most 30
 *         timeout_unit: second
 */

export const NOTIFICATION_EVENTS: readonly NotificationEvent[] = ['decision', 'action', 'config'];
export const NO_NOTIFICATIONS: NotificationsConfig = { webhooks: [] };

/** The shortest `secret`: an HMAC key anyone can guess signs nothing. */
export const WEBHOOK_SECRET_MIN_LENGTH = 16;
/** A delivery waits at most this long for the receiver: past it, it is retried (and a worker's job lock holds). */
export const WEBHOOK_TIMEOUT_MAX_MS = 30_000;
const WEBHOOK_TIMEOUT_DEFAULT_MS = 5_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Found {
  errors: ConfigError[];
  warnings: ConfigWarning[];
}

/** Reads `Notifications` (absent or empty: no webhooks); `services` are the parsed services, for the `services:` lists. */
export function buildNotifications(
  section: unknown,
  services: ServiceConfig[],
  declaredServices: string[],
): { notifications: NotificationsConfig } & Found {
  const found: Found = { errors: [], warnings: [] };
  if (section === undefined || section === null) return { notifications: NO_NOTIFICATIONS, ...found };
  if (!isMapping(section)) {
    found.errors.push({ path: 'Notifications', message: `must be a mapping with the key webhooks (got ${describe(section)})` });
    return { notifications: NO_NOTIFICATIONS, ...found };
  }
  const hooks = section.webhooks;
  if (hooks === undefined || hooks === null) return { notifications: NO_NOTIFICATIONS, ...found };
  if (!isMapping(hooks)) {
    found.errors.push({ path: 'Notifications.webhooks', message: `must be a mapping of webhook names to their settings (got ${describe(hooks)})` });
    return { notifications: NO_NOTIFICATIONS, ...found };
  }
  const webhooks: WebhookConfig[] = [];
  for (const [name, entry] of Object.entries(hooks)) {
    const webhook = buildWebhook(name, entry, services, declaredServices, found);
    if (webhook) webhooks.push(webhook);
  }
  return { notifications: { webhooks }, ...found };
}

function buildWebhook(name: string, entry: unknown, services: ServiceConfig[], declared: string[], found: Found): WebhookConfig | null {
  const at = (...rest: (string | number)[]) => joinPath(['Notifications', 'webhooks', name, ...rest]);
  const error = (path: string, message: string) => found.errors.push({ path, message });
  const problem = nameProblem(name);
  if (problem) error(at(), `webhook name ${problem}`);
  if (!isMapping(entry)) {
    error(at(), `must be a mapping with url and secret or secret_env (got ${describe(entry)})`);
    return null;
  }
  const before = found.errors.length;

  const url = value(entry.url, text, at('url'), found);
  if (entry.url === undefined || entry.url === null) error(at('url'), 'is required (the http or https URL to post to)');
  else if (url !== null) {
    const why = urlProblem(url.trim());
    if (why) error(at('url'), why);
  }

  const secret = value(entry.secret, text, at('secret'), found);
  const secretEnv = value(entry.secret_env, text, at('secret_env'), found);
  const hasSecret = entry.secret !== undefined && entry.secret !== null;
  const hasEnv = entry.secret_env !== undefined && entry.secret_env !== null;
  if (!hasSecret && !hasEnv) error(at(), 'needs secret_env (the environment variable of the workers holding the signing key) or secret');
  if (hasSecret && hasEnv) error(at('secret'), 'give secret or secret_env, not both');
  if (secret !== null && secret.length < WEBHOOK_SECRET_MIN_LENGTH) error(at('secret'), `must be at least ${WEBHOOK_SECRET_MIN_LENGTH} characters (got ${secret.length})`);
  if (secret !== null && secret.length >= WEBHOOK_SECRET_MIN_LENGTH && !hasEnv) {
    found.warnings.push({ path: at('secret'), message: 'is stored in etcd in clear with the config; secret_env keeps it out of etcd' });
  }
  if (secretEnv !== null && !ENV_NAME.test(secretEnv)) {
    error(at('secret_env'), `must be an environment variable name (letters, digits, "_", not starting with a digit; got ${quote(secretEnv)})`);
  }

  const events = eventsOf(entry.events, at('events'), found);
  const only = servicesOf(entry.services, at('services'), services, declared, found);

  const amount = value(entry.timeout, positiveNumber, at('timeout'), found);
  const unit = value(entry.timeout_unit, timeUnit, at('timeout_unit'), found) ?? ('second' as TimeUnit);
  let timeoutMs = WEBHOOK_TIMEOUT_DEFAULT_MS;
  if (amount !== null) {
    const ms = durationMs(amount, unit, { minMs: 100 });
    if ('error' in ms) error(at('timeout'), ms.error);
    else if (ms.ms > WEBHOOK_TIMEOUT_MAX_MS) error(at('timeout'), `must be at most ${WEBHOOK_TIMEOUT_MAX_MS / 1000} seconds (got ${amount} ${unit})`);
    else timeoutMs = ms.ms;
  }

  if (found.errors.length > before || url === null) return null;
  return { name, url: url.trim(), secret: hasSecret ? secret : null, secretEnv: hasEnv ? secretEnv : null, events, services: only, timeoutMs };
}

type Issue = { message: string; path?: (string | number)[] };
type Convert<T> = (input: unknown) => { value: T } | { issues: Issue[] };

/** `path` followed by an issue's own path (list indexes): `...events[2]`. */
const under = (path: string, issue: Issue) => `${path}${(issue.path ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}`;

/** Runs one converter on an optional value: null when absent, or when bad (its error recorded at `path`). */
function value<T>(input: unknown, convert: Convert<T>, path: string, found: Found): T | null {
  if (input === undefined || input === null) return null;
  const result = convert(input);
  if ('value' in result) return result.value;
  for (const issue of result.issues) found.errors.push({ path: under(path, issue), message: issue.message });
  return null;
}

/** Why `url` cannot be posted to, or null. The engine posts the signed body there and follows no redirect. */
export function urlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `must be an absolute http or https URL (got ${quote(url)})`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `must be an http or https URL (got ${quote(parsed.protocol.replace(/:$/, ''))})`;
  if (parsed.hostname === '') return `has no host (got ${quote(url)})`;
  if (parsed.username !== '' || parsed.password !== '') {
    return 'must not carry a user name or password: the config is stored in etcd in clear (receivers check the signature instead)';
  }
  if (/\s/.test(url)) return `must not contain spaces (got ${quote(url)})`;
  return null;
}

function eventsOf(input: unknown, path: string, found: Found): NotificationEvent[] {
  if (input === undefined || input === null) return [...NOTIFICATION_EVENTS];
  const list = textList(input);
  if (!('value' in list)) {
    for (const issue of list.issues) found.errors.push({ path: under(path, issue), message: issue.message });
    return [];
  }
  if (list.value.length === 0) found.errors.push({ path, message: `must name at least one event: ${NOTIFICATION_EVENTS.join(', ')} (or leave it out for all)` });
  const events: NotificationEvent[] = [];
  list.value.forEach((event, index) => {
    if (!(NOTIFICATION_EVENTS as readonly string[]).includes(event)) {
      found.errors.push({ path: `${path}[${index}]`, message: `unknown event ${quote(event)}; events are ${NOTIFICATION_EVENTS.join(', ')}${didYouMean(event, NOTIFICATION_EVENTS)}` });
    } else if (events.includes(event as NotificationEvent)) {
      found.errors.push({ path: `${path}[${index}]`, message: `${quote(event)} is listed twice` });
    } else events.push(event as NotificationEvent);
  });
  return events;
}

function servicesOf(input: unknown, path: string, services: ServiceConfig[], declared: string[], found: Found): string[] | null {
  if (input === undefined || input === null) return null;
  const list = textList(input);
  if (!('value' in list)) {
    for (const issue of list.issues) found.errors.push({ path: under(path, issue), message: issue.message });
    return null;
  }
  if (list.value.length === 0) found.errors.push({ path, message: 'must name at least one service (or leave it out for every service)' });
  const seen = new Set<string>();
  list.value.forEach((name, index) => {
    const at = `${path}[${index}]`;
    const service = services.find((s) => s.name === name);
    if (seen.has(name)) found.errors.push({ path: at, message: `${quote(name)} is listed twice` });
    else if (!declared.includes(name)) found.errors.push({ path: at, message: `unknown service ${quote(name)}${didYouMean(name, declared)}` });
    else if (service?.isAttached) found.errors.push({ path: at, message: `${quote(name)} is an attached service: its units are decided with its parent's, whose records the webhook gets` });
    seen.add(name);
  });
  return list.value;
}
