import { createHash } from 'node:crypto';
import type { DecisionRecord } from '../policy/decision-record';

/**
 * Job contracts shared by the scheduler (producer) and the workers (processors): queue names, job names,
 * job data and job ids. Ids are derived from what the job is about, never from a counter, so adding the same
 * job twice (after a restart, a Redis wipe or a retry) is harmless.
 */

/** Policy checks and timer expiries: short, CPU-light, etcd transactions only. */
export const CHECKS_QUEUE = 'checks';
/** fleet create/destroy actions: slow, retried with backoff, retried by hand from the board. */
export const ACTIONS_QUEUE = 'actions';
/** Periodic work from job schedulers: reconciliation with fleet, sample and record garbage collection. */
export const MAINTENANCE_QUEUE = 'maintenance';

/** Webhook deliveries of decision records (`Notifications` in the config): retried with backoff, retried by hand from the board. */
export const NOTIFICATIONS_QUEUE = 'notifications';

export const ALL_QUEUES = [CHECKS_QUEUE, ACTIONS_QUEUE, MAINTENANCE_QUEUE, NOTIFICATIONS_QUEUE] as const;

export const JOB = {
  /** Evaluate the new samples of the state machines a batch of sample events touched. */
  check: 'policy-check',
  /** A period timer of one state machine expired. */
  timer: 'period-expiry',
  /** A policy's cooldown ended (records it; nothing else depends on it). */
  cooldownEnd: 'cooldown-end',
  scaleUp: 'scale-up',
  scaleDown: 'scale-down',
  reconcile: 'reconcile',
  sampleGc: 'sample-gc',
  recordGc: 'decision-gc',
  /** Deliver one decision record to one webhook. */
  webhook: 'webhook',
} as const;

export interface MachineRef {
  service: string;
  policy: string;
  /** The instance uuid for per-instance policies, `_aggregate` for aggregated ones. */
  machine: string;
}

/** The state machines a batch of sample events touched; every sample up to `revision` was received by `receivedAt`. */
export interface CheckJobData {
  machines: MachineRef[];
  receivedAt: number;
  revision: string;
}

export interface TimerJobData extends MachineRef {
  timerId: string;
  /** When the timer expires (wall-clock ms); the job is delayed until then. */
  at: number;
}

export interface CooldownEndJobData {
  service: string;
  policy: string;
  until: number;
  decisionId: string;
}

export interface ActionJobData {
  service: string;
  decisionId: string;
  kind: 'scale_up' | 'scale_down';
  /** The parent instance, e.g. `apache@8081.service`. */
  instance: string;
  /** The attached instances created/destroyed with it, e.g. `apache_discovery@8081.service`. */
  attached: string[];
  /** Why: the policy (or `min_instance` / `max_instance` for bound repairs) and a readable summary. */
  reason: string;
}

export interface WebhookJobData {
  /** The webhook's name under `Notifications.webhooks`. */
  webhook: string;
  event: 'decision' | 'action' | 'config';
  service: string;
  /** The decision record delivered, as committed (its id is the delivery's id). */
  record: DecisionRecord;
}

function safe(part: string): string {
  // BullMQ custom ids must not contain ':'; keep them readable otherwise.
  return part.replace(/:/g, '_');
}

export const jobIds = {
  timer: (m: MachineRef, timerId: string) => `timer|${safe(m.service)}|${safe(m.policy)}|${safe(m.machine)}|${safe(timerId)}`,
  cooldownEnd: (service: string, policy: string, decisionId: string) =>
    `cooldown|${safe(service)}|${safe(policy)}|${safe(decisionId)}`,
  action: (decisionId: string) => `action|${safe(decisionId)}`,
  /** One delivery per webhook and record: a retried commit adds the same id again, which is a no-op. */
  webhook: (webhook: string, service: string, recordId: string) => `webhook|${safe(webhook)}|${safe(service)}|${safe(recordId)}`,
  reconcileScheduler: 'reconcile-every',
  sampleGcScheduler: 'sample-gc-every',
  recordGcScheduler: 'decision-gc-every',
} as const;

/**
 * A deterministic, time-sortable id: `<time base36, 9 chars>-<hash of the parts, 10 hex>`.
 * The same inputs always give the same id, so a retried decision keeps its id.
 */
export function deterministicId(timeMs: number, ...parts: string[]): string {
  const hash = createHash('sha1').update(parts.join('\u0000')).digest('hex').slice(0, 10);
  return `${idTimePart(timeMs)}-${hash}`;
}

/**
 * The time part of a deterministicId: ids of later times sort after it, so `<prefix><idTimePart(t)>` starts the
 * range of records dated at or after `t` (decision records are keyed by their id).
 */
export function idTimePart(timeMs: number): string {
  return Math.max(0, Math.floor(timeMs)).toString(36).padStart(9, '0');
}
