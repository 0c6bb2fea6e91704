import type { DynamiteConfig, ServiceConfig } from '../config/types';
import { AGGREGATE_MACHINE } from '../keys/layout';
import { findService } from '../config/policy-usage';
import { attachedInstancesOf, instanceName } from '../instances/naming';
import { allocatePort } from '../instances/ports';

/**
 * The scaling decision: given what is recorded for a service, may it grow or shrink by one instance, and which
 * instance? The engine runs this inside the same etcd transaction that records the decided action, so counting
 * decided-but-not-done instances is what keeps min/max true under any concurrency.
 */

export interface RecordedInstance {
  name: string;
  port: number | null;
  /** creating: decided, fleet work pending; launched: running; destroying: decided to go, fleet work pending. */
  state: 'creating' | 'launched' | 'destroying';
  createdAt: number;
  decisionId: string | null;
  attached: string[];
}

export type ScaleTarget = { kind: 'instance'; name: string } | { kind: 'newest' };
export type ScaleRequest = { direction: 'up' } | { direction: 'down'; target: ScaleTarget };
export type ScaleSuppressReason = 'max_instance' | 'min_instance' | 'unknown_instance' | 'no_free_port' | 'protected';
export type ScaleDecision =
  | { outcome: 'action'; kind: 'scale_up' | 'scale_down'; instance: string; port: number | null; attached: string[] }
  | { outcome: 'suppressed'; reason: ScaleSuppressReason; message: string };

export interface InstanceCounts {
  /** creating + launched: what min and max are checked against. */
  active: number;
  creating: number;
  launched: number;
  destroying: number;
}

export function countsOf(instances: RecordedInstance[]): InstanceCounts {
  let creating = 0;
  let launched = 0;
  let destroying = 0;
  for (const instance of instances) {
    if (instance.state === 'creating') creating += 1;
    else if (instance.state === 'launched') launched += 1;
    else destroying += 1;
  }
  return { active: creating + launched, creating, launched, destroying };
}

/** How many scale-ups bring `service` to its min_instance (0 when it has enough). */
export function instancesNeededForMin(config: DynamiteConfig, service: string, instances: RecordedInstance[]): number {
  return Math.max(0, requireService(config, service).minInstance - countsOf(instances).active);
}

/**
 * Which instance a scale down should remove for a fired state machine: the instance whose metric triggered
 * (its uuid's registration, resolved by the engine), or the newest one for an aggregated metric or a uuid
 * without a registration.
 */
export function scaleDownTargetFor(machine: string, registeredInstance: string | null): ScaleTarget {
  if (machine === AGGREGATE_MACHINE || registeredInstance === null) return { kind: 'newest' };
  return { kind: 'instance', name: registeredInstance };
}

const NO_PROTECTION: ReadonlySet<string> = new Set();

/**
 * `instances` are the recorded instances of `service` (all states); `protectedInstances` are never removed (an
 * operator's scale-in protection). Throws for a service not in the config.
 */
export function decideScaling(
  config: DynamiteConfig,
  service: string,
  instances: RecordedInstance[],
  request: ScaleRequest,
  protectedInstances: ReadonlySet<string> = NO_PROTECTION,
): ScaleDecision {
  const svc = requireService(config, service);
  return request.direction === 'up' ? decideUp(config, svc, instances) : decideDown(svc, instances, request.target, protectedInstances);
}

function decideUp(config: DynamiteConfig, svc: ServiceConfig, instances: RecordedInstance[]): ScaleDecision {
  const counts = countsOf(instances);
  if (counts.active >= svc.maxInstance) {
    return suppressed(
      'max_instance',
      `${svc.name} has ${counts.active} of max ${svc.maxInstance} instances (${counts.creating} being created)`,
    );
  }
  let name: string;
  let port: number | null = null;
  if (svc.isTemplate) {
    port = allocatePort(svc, instances);
    if (port === null) {
      return suppressed(
        'no_free_port',
        `${svc.name} has no free port slot: ${svc.maxInstance} slots of ${svc.portsPerInstance} port(s) from ` +
          `${svc.basePort ?? 'no base port'}, ${instances.length} occupied (${counts.destroying} being destroyed)`,
      );
    }
    name = instanceName(svc, port);
  } else {
    name = instanceName(svc, null);
  }
  // A non-template service's only name, or (never expected) a port name held by an odd record, is taken
  // until its instance is gone.
  const holder = instances.find((i) => i.name === name);
  if (holder !== undefined) {
    return suppressed(
      'no_free_port',
      `${name} still exists (${holder.state}); ${svc.name} cannot create it again until it is gone`,
    );
  }
  return { outcome: 'action', kind: 'scale_up', instance: name, port, attached: attachedInstancesOf(config, svc.name, name) };
}

function decideDown(svc: ServiceConfig, instances: RecordedInstance[], target: ScaleTarget, protectedInstances: ReadonlySet<string>): ScaleDecision {
  const counts = countsOf(instances);
  // Only launched instances serve: a scale down must leave at least min_instance of them (one still being created,
  // or whose creation failed, does not stand in for a running one).
  if (counts.launched <= svc.minInstance) {
    return suppressed(
      'min_instance',
      `${svc.name} has ${counts.launched} launched of min ${svc.minInstance} instances (${counts.creating} being created, ${counts.destroying} being destroyed)`,
    );
  }
  let victim: RecordedInstance | undefined;
  if (target.kind === 'instance') {
    victim = instances.find((i) => i.name === target.name);
    if (victim === undefined) {
      return suppressed('unknown_instance', `${target.name} is not a recorded instance of ${svc.name}`);
    }
    if (victim.state === 'destroying') {
      return suppressed('unknown_instance', `${target.name} of ${svc.name} is already being destroyed`);
    }
    // An instance still being created cannot be removed: its creation would race the removal (and win).
    if (victim.state === 'creating') {
      return suppressed('unknown_instance', `${target.name} of ${svc.name} is still being created`);
    }
    // The instance whose metric asked for it is the only candidate: removing another one would not follow the metric.
    if (protectedInstances.has(victim.name)) {
      return suppressed('protected', `${target.name} of ${svc.name} is protected from scale-in`);
    }
  } else {
    victim = newestLaunched(instances, protectedInstances);
    if (victim === undefined) {
      if (newestLaunched(instances, NO_PROTECTION) !== undefined) {
        return suppressed('protected', `every launched instance of ${svc.name} is protected from scale-in (${[...protectedInstances].sort().join(', ')})`);
      }
      return suppressed('min_instance', `${svc.name} has no launched instance to remove (${counts.creating} being created)`);
    }
  }
  // Remove the attached units that were created with it (recorded), not what today's config would name.
  return { outcome: 'action', kind: 'scale_down', instance: victim.name, port: victim.port, attached: [...victim.attached] };
}

/** The unprotected launched instance created last; ties go to the highest port, then the highest name. */
function newestLaunched(instances: RecordedInstance[], protectedInstances: ReadonlySet<string>): RecordedInstance | undefined {
  let best: RecordedInstance | undefined;
  for (const candidate of instances) {
    if (candidate.state !== 'launched' || protectedInstances.has(candidate.name)) continue;
    if (best === undefined || isNewer(candidate, best)) best = candidate;
  }
  return best;
}

function isNewer(a: RecordedInstance, b: RecordedInstance): boolean {
  if (a.createdAt !== b.createdAt) return a.createdAt > b.createdAt;
  const pa = a.port ?? -Infinity;
  const pb = b.port ?? -Infinity;
  if (pa !== pb) return pa > pb;
  return a.name > b.name;
}

export function requireService(config: DynamiteConfig, service: string): ServiceConfig {
  const svc = findService(config, service);
  if (svc === undefined) throw new Error(`service ${service} is not in the configuration`);
  return svc;
}

function suppressed(reason: ScaleSuppressReason, message: string): ScaleDecision {
  return { outcome: 'suppressed', reason, message };
}
