import os from 'node:os';
import {
  buildPause,
  findService,
  pauseExpired,
  reasonProblem,
  type DynamiteConfig,
  type ServiceConfig,
} from '@dynamite/domain';
import type { PauseRecord, ProtectionRecord, ServiceRecords, StateStore } from '@dynamite/store';

/**
 * The operator's controls of a service -- pause and resume of its scaling, scale-in protection of its instances --
 * and how they are shown. The HTTP API (`/api/services/:name/pause`, `.../instances/:instance/protection`) and the
 * CLI (`dynamite pause|resume|protect|unprotect`, straight to etcd) both change them through these functions, and
 * every view (API, `dynamite status`, the UI) shows them through `controlsView`. The engine reads the same keys in
 * the same etcd read as the service's records, so every worker honours a change from its next decision on.
 */

export interface PauseView {
  directions: ('up' | 'down')[];
  reason: string;
  since: string | null;
  /** When it stops applying, or null: until resumed. */
  until: string | null;
  remainingMs: number | null;
  by: string | null;
  /** False once `until` has passed (the record stays until resumed, but holds nothing). */
  active: boolean;
}

export interface ProtectionView {
  instance: string;
  reason: string | null;
  since: string | null;
  by: string | null;
}

export interface ControlsView {
  /** Decisions are only recorded: the engine-wide `--dry_run`, or the service's `dry_run: true`. */
  dryRun: boolean;
  dryRunSource: 'engine' | 'service' | null;
  paused: PauseView | null;
  protected: ProtectionView[];
}

/** A control request that cannot be carried out; `status` is the HTTP answer, the message names what is wrong. */
export class ControlError extends Error {
  constructor(readonly status: 400 | 404, message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

function iso(ms: number): string | null {
  return ms > 0 ? new Date(ms).toISOString() : null;
}

export function pauseView(record: PauseRecord, now: number): PauseView {
  const active = !pauseExpired(record, now);
  return {
    directions: record.directions,
    reason: record.reason,
    since: iso(record.at),
    until: record.until === null ? null : iso(record.until),
    remainingMs: record.until === null ? null : Math.max(0, record.until - now),
    by: record.by,
    active,
  };
}

/** The controls of a service as read with its records (readService). */
export function controlsView(records: ServiceRecords, svc: ServiceConfig | null, now: number): ControlsView {
  const { controls } = records;
  const engine = controls.dryRun.value !== null;
  const service = svc?.dryRun === true;
  return {
    dryRun: engine || service,
    dryRunSource: engine ? 'engine' : service ? 'service' : null,
    paused: controls.pause.value ? pauseView(controls.pause.value, now) : null,
    protected: Object.values(controls.protections)
      .flatMap((v) => (v.value ? [{ instance: v.value.instance, reason: v.value.reason, since: iso(v.value.at), by: v.value.by }] : []))
      .sort((a, b) => a.instance.localeCompare(b.instance)),
  };
}

/** Reads one service's controls (one etcd read). */
export async function readControls(store: StateStore, config: DynamiteConfig, service: string, now: number): Promise<ControlsView> {
  return controlsView(await store.readService(service), findService(config, service) ?? null, now);
}

/** Who is asking, for the records: the HTTP user, or `user@host` of the CLI. */
export function localOperator(): string {
  try {
    return `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    return os.hostname();
  }
}

/** A configured service that scales on its own (not an attached one), or a ControlError naming the services. */
function scalableService(config: DynamiteConfig, service: string): ServiceConfig {
  const svc = findService(config, service);
  const names = config.services.filter((s) => !s.isAttached).map((s) => s.name);
  if (!svc) throw new ControlError(404, `unknown service ${JSON.stringify(service)}; services: ${names.join(', ') || '(none)'}`);
  if (svc.isAttached) throw new ControlError(400, `${service} is an attached service: it follows the instances of its parent; pause or protect the parent`);
  return svc;
}

/** Pauses `service`'s scaling (`direction` up, down or both) for a reason, until `forText` (`30m`) or until resumed. */
export async function pauseService(
  store: StateStore,
  config: DynamiteConfig,
  service: string,
  input: { direction?: string | null; reason?: string | null; forText?: string | null; by: string | null; now: number },
): Promise<PauseRecord> {
  scalableService(config, service);
  const built = buildPause(input);
  if ('error' in built) throw new ControlError(400, built.error);
  const record: PauseRecord = { service, ...built.pause };
  await store.writePause(record);
  return record;
}

/** Resumes `service`'s scaling; false when it was not paused. */
export async function resumeService(store: StateStore, config: DynamiteConfig, service: string): Promise<boolean> {
  scalableService(config, service);
  return store.deletePause(service);
}

/** Protects a recorded instance of `service` from scale-in (policies and max_instance repairs never remove it). */
export async function protectInstance(
  store: StateStore,
  config: DynamiteConfig,
  service: string,
  instance: string,
  input: { reason?: string | null; by: string | null; now: number },
): Promise<ProtectionRecord> {
  scalableService(config, service);
  const records = await store.readService(service);
  const recorded = records.instances.find((i) => i.name === instance);
  if (!recorded) {
    const names = records.instances.map((i) => i.name).sort();
    throw new ControlError(404, `${JSON.stringify(instance)} is not a recorded instance of ${service}; instances: ${names.join(', ') || '(none)'}`);
  }
  if (recorded.state === 'destroying') throw new ControlError(400, `${instance} is already being destroyed`);
  const reason = input.reason ?? null;
  if (reason !== null) {
    const problem = reasonProblem(reason);
    if (problem !== null) throw new ControlError(400, `reason: ${problem}`);
  }
  const record: ProtectionRecord = { service, instance, reason: reason?.trim() ?? null, at: input.now, by: input.by };
  await store.writeProtection(record);
  return record;
}

/** Lifts an instance's protection; false when it had none. */
export async function unprotectInstance(store: StateStore, config: DynamiteConfig, service: string, instance: string): Promise<boolean> {
  scalableService(config, service);
  return store.deleteProtection(service, instance);
}
