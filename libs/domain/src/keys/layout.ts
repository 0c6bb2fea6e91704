/**
 * The etcd key layout under `/_dynamite`: the one place every app takes a key from.
 *
 * Kept from the original (tools that inspect it keep working):
 *   /_dynamite/state/application_status                 Initializing | Running | Recovering
 *   /_dynamite/init/application_configuration           the config as JSON
 *   /_dynamite/run/service/<svc>/fleet_service_template the service's template and `used_port_numbers`
 *   /_dynamite/run/service/<svc>/<instance>             one recorded instance (JSON, extra fields allowed)
 * Added by this engine:
 *   /_dynamite/policy/<svc>/<policy>/cooldown            { until, decisionId }
 *   /_dynamite/policy/<svc>/<policy>/machine/<machine>   one policy state machine (machine = uuid or `_aggregate`)
 *   /_dynamite/actions/<svc>/<decisionId>                a decided fleet action and its status
 *   /_dynamite/decisions/<svc>/<recordId>                decision records (newest last when sorted)
 *   /_dynamite/scheduler/watch_revision                  the last etcd revision the scheduler turned into jobs
 *   /_dynamite/scheduler/leader                          leader election of schedulers
 *   /_dynamite/stats/<name>                              counters shared by all processes (e.g. rejected samples)
 *   /_dynamite/init/applied_configuration                { revision, config }: the config the leader last applied
 *   /_dynamite/init/apply_request                        what `dynamite apply` asks beyond the config (prune, unit files)
 *   /_dynamite/init/configuration_file_digest            digest of the config file (and units) a scheduler last stored
 *   /_dynamite/state/dry_run                             engine-wide dry run, written by the leading scheduler (absent: off)
 *   /_dynamite/control/<svc>/pause                       an operator's pause of the service's scaling (up, down or both)
 *   /_dynamite/control/<svc>/protected/<instance>        an instance an operator protected from scale-in
 */

export const ROOT = '/_dynamite';

/** Name of the aggregated state machine of a policy (the original used uuid ""). */
export const AGGREGATE_MACHINE = '_aggregate';

/** Template key's leaf name, as in the original. */
export const TEMPLATE_LEAF = 'fleet_service_template';

export const keys = {
  root: `${ROOT}/`,
  applicationStatus: `${ROOT}/state/application_status`,
  applicationConfiguration: `${ROOT}/init/application_configuration`,
  appliedConfiguration: `${ROOT}/init/applied_configuration`,
  applyRequest: `${ROOT}/init/apply_request`,
  configurationFileDigest: `${ROOT}/init/configuration_file_digest`,

  runPrefix: `${ROOT}/run/service/`,
  servicePrefix: (service: string) => `${ROOT}/run/service/${service}/`,
  serviceTemplate: (service: string) => `${ROOT}/run/service/${service}/${TEMPLATE_LEAF}`,
  instance: (service: string, instance: string) => `${ROOT}/run/service/${service}/${instance}`,

  policyPrefix: `${ROOT}/policy/`,
  servicePolicyPrefix: (service: string) => `${ROOT}/policy/${service}/`,
  cooldown: (service: string, policy: string) => `${ROOT}/policy/${service}/${policy}/cooldown`,
  machinePrefix: (service: string, policy: string) => `${ROOT}/policy/${service}/${policy}/machine/`,
  machine: (service: string, policy: string, machine: string) =>
    `${ROOT}/policy/${service}/${policy}/machine/${machine}`,

  actionsPrefix: `${ROOT}/actions/`,
  serviceActionsPrefix: (service: string) => `${ROOT}/actions/${service}/`,
  action: (service: string, decisionId: string) => `${ROOT}/actions/${service}/${decisionId}`,

  decisionsPrefix: `${ROOT}/decisions/`,
  serviceDecisionsPrefix: (service: string) => `${ROOT}/decisions/${service}/`,
  decision: (service: string, recordId: string) => `${ROOT}/decisions/${service}/${recordId}`,

  dryRun: `${ROOT}/state/dry_run`,
  controlPrefix: `${ROOT}/control/`,
  serviceControlPrefix: (service: string) => `${ROOT}/control/${service}/`,
  pause: (service: string) => `${ROOT}/control/${service}/pause`,
  protectionPrefix: (service: string) => `${ROOT}/control/${service}/protected/`,
  protection: (service: string, instance: string) => `${ROOT}/control/${service}/protected/${instance}`,

  watchRevision: `${ROOT}/scheduler/watch_revision`,
  schedulerElection: `${ROOT}/scheduler/leader`,
  stat: (name: string) => `${ROOT}/stats/${name}`,
} as const;

/** Parses `/_dynamite/run/service/<svc>/<leaf>` into its parts, or null for any other key. */
export function parseRunKey(key: string): { service: string; leaf: string } | null {
  if (!key.startsWith(keys.runPrefix)) return null;
  const rest = key.slice(keys.runPrefix.length).split('/');
  if (rest.length !== 2 || rest[0] === '' || rest[1] === '') return null;
  return { service: rest[0]!, leaf: rest[1]! };
}

/** Parses `/_dynamite/policy/<svc>/<policy>/machine/<machine>`, or null. */
export function parseMachineKey(key: string): { service: string; policy: string; machine: string } | null {
  if (!key.startsWith(keys.policyPrefix)) return null;
  const rest = key.slice(keys.policyPrefix.length).split('/');
  if (rest.length !== 4 || rest[2] !== 'machine') return null;
  return { service: rest[0]!, policy: rest[1]!, machine: rest[3]! };
}

/** Parses `/_dynamite/policy/<svc>/<policy>/cooldown`, or null. */
export function parseCooldownKey(key: string): { service: string; policy: string } | null {
  if (!key.startsWith(keys.policyPrefix)) return null;
  const rest = key.slice(keys.policyPrefix.length).split('/');
  if (rest.length !== 3 || rest[2] !== 'cooldown') return null;
  return { service: rest[0]!, policy: rest[1]! };
}

/** Parses `/_dynamite/control/<svc>/pause` and `/_dynamite/control/<svc>/protected/<instance>`, or null. */
export function parseControlKey(key: string): { service: string; kind: 'pause' } | { service: string; kind: 'protection'; instance: string } | null {
  if (!key.startsWith(keys.controlPrefix)) return null;
  const rest = key.slice(keys.controlPrefix.length).split('/');
  if (rest.length === 2 && rest[0] !== '' && rest[1] === 'pause') return { service: rest[0]!, kind: 'pause' };
  if (rest.length === 3 && rest[0] !== '' && rest[1] === 'protected' && rest[2] !== '') return { service: rest[0]!, kind: 'protection', instance: rest[2]! };
  return null;
}

/** Parses `/_dynamite/actions/<svc>/<decisionId>`, or null. */
export function parseActionKey(key: string): { service: string; decisionId: string } | null {
  if (!key.startsWith(keys.actionsPrefix)) return null;
  const rest = key.slice(keys.actionsPrefix.length).split('/');
  if (rest.length !== 2) return null;
  return { service: rest[0]!, decisionId: rest[1]! };
}

/** The smallest key strictly greater than every key starting with `prefix` (etcd range end). */
export function prefixEnd(prefix: string): string {
  const buf = Buffer.from(prefix, 'utf8');
  for (let i = buf.length - 1; i >= 0; i -= 1) {
    if (buf[i]! < 0xff) {
      const end = Buffer.from(buf.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return end.toString('latin1');
    }
  }
  return '\0';
}
