/**
 * The JSON shapes this engine stores under /_dynamite, and their schemas. Instance and template keys keep the
 * original's field names (`name`, `state`, `attached_services`, `used_port_numbers`, ...) so tools written for the
 * original keep working; extra fields are added next to them.
 *
 * Anyone who can write metrics to etcd can often write here too, so every record read back is checked against its
 * schema before it is used: a record that fails is skipped (never acted on), reported once (RecordRejection) and
 * never crashes a reconcile or a view.
 */
import { z } from 'zod';
import type { DecisionRecord, MachineState } from '@dynamite/domain';
import { validateUnitName } from '@dynamite/unit-files';

/** `/_dynamite/run/service/<svc>/<instance>`: one recorded instance. */
export interface InstanceRecord {
  name: string;
  /** `creating` and `destroying` are ours; the original only wrote `launched`. */
  state: 'creating' | 'launched' | 'destroying';
  attached_services: { name: string; state: string; attached_services: [] }[];
  port: number | null;
  created_at: number;
  decision_id: string | null;
  /** How the instance came to be: a decision, adoption of a running fleet unit, or the original's recovery data. */
  origin: 'decision' | 'adopted' | 'legacy';
}

/** `/_dynamite/run/service/<svc>/fleet_service_template`, the original's FleetService.to_dict() plus our fields. */
export interface TemplateRecord {
  name: string;
  unit_file_details_json_dict: { desiredState: string | null; options: { section: string; name: string; value: string }[] };
  path_on_filesystem: string | null;
  service_config_details: Record<string, unknown>;
  is_template: boolean;
  used_port_numbers?: number[];
  attached_services: TemplateRecord[];
  fleet_service_instances: Record<string, unknown> | null;
}

/** `/_dynamite/policy/<svc>/<policy>/machine/<machine>`: a policy state machine and its sample cursor. */
export interface StoredMachine {
  state: MachineState;
  /** etcd mod revision of the last sample key read, good or bad: the next read starts after it. */
  cursor: string | null;
  updatedAt: number;
}

/** `/_dynamite/policy/<svc>/<policy>/cooldown`. */
export interface CooldownRecord {
  until: number;
  decisionId: string;
  startedAt: number;
}

/** `/_dynamite/actions/<svc>/<decisionId>`: a decided fleet action and what became of it. */
export interface ActionRecord {
  decisionId: string;
  service: string;
  kind: 'scale_up' | 'scale_down';
  instance: string;
  attached: string[];
  reason: string;
  status: 'pending' | 'done' | 'failed';
  createdAt: number;
  /** When the decision that caused it was due (timer expiry), for the expiry-to-action latency metric. */
  dueAt: number | null;
  finishedAt: number | null;
  attempts: number;
  error: string | null;
  result: Record<string, unknown> | null;
}

/** `/_dynamite/control/<svc>/pause`: an operator's pause of the service's scaling. */
export interface PauseRecord {
  service: string;
  directions: ('up' | 'down')[];
  reason: string;
  /** Wall ms from which it no longer applies, or null: until resumed. */
  until: number | null;
  at: number;
  by: string | null;
}

/** `/_dynamite/control/<svc>/protected/<instance>`: an instance never chosen for removal. */
export interface ProtectionRecord {
  service: string;
  instance: string;
  reason: string | null;
  at: number;
  by: string | null;
}

/** `/_dynamite/state/dry_run`: the engine-wide dry run, written by the leading scheduler (`--dry_run`); absent when off. */
export interface DryRunRecord {
  at: number;
  /** The scheduler that set it. */
  by: string | null;
}

export const APPLICATION_STATUSES = ['Initializing', 'Running', 'Recovering'] as const;
export type ApplicationStatus = (typeof APPLICATION_STATUSES)[number];

// ---- rejections ---------------------------------------------------------------------------------------------

/** The kinds of record under /_dynamite, as counted in `dynamite_records_rejected_total{kind}`. */
export type RecordKind =
  | 'instance'
  | 'template'
  | 'machine'
  | 'cooldown'
  | 'action'
  | 'decision'
  | 'stats'
  | 'watch_revision'
  | 'application_status'
  | 'application_configuration'
  | 'pause'
  | 'protection'
  | 'dry_run';

/**
 * Why a record was skipped: `not_json` (unparseable), `invalid` (fails its schema), `key_mismatch` (its fields name
 * another key than the one it is stored at), `not_an_instance` (a name its service would never give),
 * `ahead_of_etcd` (a revision etcd has not reached), `not_launchable` (an instance the engine may count and remove
 * but never launch: outside its service's ports, e.g. after max_instance was lowered).
 */
export type RejectReason = 'not_json' | 'invalid' | 'key_mismatch' | 'not_an_instance' | 'ahead_of_etcd' | 'not_launchable';

export interface RecordRejection {
  kind: RecordKind;
  key: string;
  /** The key's mod revision: a record is reported once per version. */
  modRevision: string;
  reason: RejectReason;
  /** What is wrong, readable: `armed.expiresAt: expected number, received string`. */
  message: string;
}

export type RejectionSink = (rejection: RecordRejection) => void;

export class RecordProblem extends Error {
  constructor(readonly reason: RejectReason, message: string) {
    super(message);
    this.name = 'RecordProblem';
  }
}

// ---- field schemas ------------------------------------------------------------------------------------------

/** Wall-clock ms: an integer between 1970 and the year 275760 (what Date accepts). */
const epochMs = z.number().int().min(0).max(8.64e15);
/** An etcd revision as stored: decimal digits, an int64. */
export const REVISION = /^(0|[1-9]\d{0,18})$/;
/** Ids (decision ids, timer ids): what deterministicId makes, and safe in a key, a job id and a log line. */
export const RECORD_ID = /^[A-Za-z0-9_-]{1,64}$/;
const id = z.string().regex(RECORD_ID, 'must be an id of letters, digits, "-" and "_"');
/** A name read from a key or a record that reaches a key, a URL or a command line: fleet's unit name characters. */
export const RECORD_NAME = /^[A-Za-z0-9:_.-]{1,128}$/;
const name = z.string().regex(RECORD_NAME, "must use only letters, digits and ':_.-'");
const unitName = z.string().refine((n) => validateUnitName(n) === null && n === n.trim(), { message: 'must be a valid fleet unit name' });
const shortText = z.string().max(4_000);

const instanceSchema = z.looseObject({
  name: unitName.optional(),
  state: z.enum(['creating', 'launched', 'destroying']),
  attached_services: z.array(z.union([unitName, z.looseObject({ name: unitName, state: z.string().max(32).optional() })])).max(64).optional(),
  // The original's recovery code read (and some of its records have) `attached_service`.
  attached_service: z.array(z.union([unitName, z.looseObject({ name: unitName, state: z.string().max(32).optional() })])).max(64).optional(),
  port: z.number().int().min(1).max(65_535).nullable().optional(),
  created_at: epochMs.optional(),
  decision_id: id.nullable().optional(),
  origin: z.enum(['decision', 'adopted', 'legacy']).optional(),
});

const unitOption = z.looseObject({ section: z.string().max(256), name: z.string().max(256), value: z.string().max(65_536) });
const serviceDetails = z.looseObject({
  name_of_unit_file: unitName,
  base_instance_prefix_number: z.number().int().min(1).max(65_535).nullable().optional(),
  max_instance: z.number().int().min(1).max(65_535).nullable().optional(),
  ports_per_instance: z.number().int().min(1).max(65_535).nullable().optional(),
});
const templateBase = {
  name,
  unit_file_details_json_dict: z.looseObject({ desiredState: z.string().max(32).nullable().optional(), options: z.array(unitOption).max(1_000) }),
  path_on_filesystem: z.string().max(4_096).nullable().optional(),
  service_config_details: serviceDetails,
  is_template: z.boolean(),
  used_port_numbers: z.array(z.number().int().min(0).max(65_535)).max(65_536).optional(),
  fleet_service_instances: z.record(z.string(), z.unknown()).nullable().optional(),
};
const templateSchema = z.looseObject({
  ...templateBase,
  attached_services: z.array(z.looseObject({ ...templateBase, attached_services: z.array(z.unknown()).optional() })).max(64),
});

const armedSchema = z.looseObject({
  timerId: id,
  armedAt: epochMs,
  expiresAt: epochMs,
  samples: z.number().int().min(1),
  firstSampleKey: z.string().max(256),
  newestSampleKey: z.string().max(256),
  newestValue: z.number(),
  newestReceivedAt: epochMs,
});
const machineSchema = z.looseObject({
  state: z.looseObject({
    lastSeenKey: z.string().max(256).nullable(),
    lastSeenTs: z.number().nullable(),
    armed: armedSchema.nullable(),
    cooldownNotedUntil: epochMs.nullable(),
  }),
  // An older version kept a key segment here; the policy check starts such a machine's cursor over.
  cursor: z.string().max(256).nullable(),
  updatedAt: epochMs,
});

const cooldownSchema = z.looseObject({ until: epochMs, decisionId: id, startedAt: epochMs });

const actionSchema = z.looseObject({
  decisionId: id,
  service: name,
  kind: z.enum(['scale_up', 'scale_down']),
  instance: unitName,
  attached: z.array(unitName).max(64),
  reason: shortText,
  status: z.enum(['pending', 'done', 'failed']),
  createdAt: epochMs,
  dueAt: epochMs.nullable(),
  finishedAt: epochMs.nullable(),
  attempts: z.number().int().min(0),
  error: z.string().max(65_536).nullable(),
  result: z.record(z.string(), z.unknown()).nullable(),
});

const pauseSchema = z.looseObject({
  service: name,
  directions: z.array(z.enum(['up', 'down'])).min(1).max(2),
  reason: z.string().min(1).max(500),
  until: epochMs.nullable(),
  at: epochMs,
  by: z.string().max(256).nullable(),
});

const protectionSchema = z.looseObject({
  service: name,
  instance: unitName,
  reason: z.string().max(500).nullable(),
  at: epochMs,
  by: z.string().max(256).nullable(),
});

const dryRunSchema = z.looseObject({ at: epochMs, by: z.string().max(256).nullable() });

const recordedAction = z.looseObject({ kind: z.enum(['scale_up', 'scale_down']), instance: unitName, attached: z.array(unitName).max(64) });

const decisionSchema = z.looseObject({
  id,
  at: epochMs,
  service: name,
  policy: z.string().min(1).max(256).nullable(),
  machine: z.string().max(256).nullable(),
  direction: z.enum(['up', 'down']).nullable(),
  outcome: z.enum(['armed', 'disarmed', 'scaled', 'dry_run', 'suppressed', 'bound_repair', 'resync', 'action_done', 'action_failed', 'reconfigured', 'notify_failed']),
  reason: z.string().max(65_536).nullable(),
  rule: shortText.nullable(),
  inputs: z.record(z.string(), z.unknown()),
  action: recordedAction.nullable(),
  actions: z.array(recordedAction).max(1_000).optional(),
  message: z.string().max(65_536),
});

// ---- parsing ------------------------------------------------------------------------------------------------

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RecordProblem('not_json', `not JSON: ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text)}`);
  }
}

/** The first problem zod found, as `path: message`. */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.length > 0 ? issue.path.join('.') : '(record)';
  return `${where}: ${issue.message}`;
}

function check<T>(schema: z.ZodType<unknown>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new RecordProblem('invalid', firstIssue(result.error));
  return value as T;
}

function sameKey(what: string, inKey: string, inRecord: string): void {
  if (inKey !== inRecord) throw new RecordProblem('key_mismatch', `${what} is "${inRecord}" but the key says "${inKey}"`);
}

/** An instance record read at `/_dynamite/run/service/<svc>/<leaf>`, in our form (the original's accepted too). */
export function parseInstanceRecord(leaf: string, text: string): InstanceRecord {
  const leafProblem = validateUnitName(leaf);
  if (leafProblem !== null) throw new RecordProblem('invalid', `the key's instance name "${leaf}" is not a unit name: ${leafProblem}`);
  const raw = check<z.infer<typeof instanceSchema>>(instanceSchema, parseJsonText(text));
  if (raw.name !== undefined) sameKey('name', leaf, raw.name);
  const attachedRaw = raw.attached_services ?? raw.attached_service ?? [];
  const attached = attachedRaw.map((a) => (typeof a === 'string' ? { name: a, state: 'launched' } : { name: a.name, state: a.state ?? 'launched' }));
  const portInName = /@(\d+)\.[a-z]+$/.exec(leaf);
  const port = raw.port ?? (portInName ? Number(portInName[1]) : null);
  if (raw.port !== undefined && raw.port !== null && portInName && Number(portInName[1]) !== raw.port) {
    throw new RecordProblem('invalid', `port: ${raw.port} is not the port of ${leaf}`);
  }
  return {
    name: leaf,
    state: raw.state,
    attached_services: attached.map((a) => ({ name: a.name, state: a.state, attached_services: [] as [] })),
    port,
    created_at: raw.created_at ?? 0,
    decision_id: raw.decision_id ?? null,
    origin: raw.origin ?? (raw.created_at === undefined ? 'legacy' : 'decision'),
  };
}

export function parseTemplateRecord(service: string, text: string): TemplateRecord {
  const record = check<TemplateRecord>(templateSchema, parseJsonText(text));
  sameKey('name', service, record.name);
  return record;
}

export function parseStoredMachine(text: string): StoredMachine {
  return check<StoredMachine>(machineSchema, parseJsonText(text));
}

export function parseCooldownRecord(text: string): CooldownRecord {
  return check<CooldownRecord>(cooldownSchema, parseJsonText(text));
}

export function parseActionRecord(key: { service: string; decisionId: string }, text: string): ActionRecord {
  const record = check<ActionRecord>(actionSchema, parseJsonText(text));
  sameKey('service', key.service, record.service);
  sameKey('decisionId', key.decisionId, record.decisionId);
  return record;
}

export function parseDecisionRecord(key: { service: string; id: string }, text: string): DecisionRecord {
  const record = check<DecisionRecord>(decisionSchema, parseJsonText(text));
  sameKey('service', key.service, record.service);
  sameKey('id', key.id, record.id);
  return record;
}

export function parsePauseRecord(service: string, text: string): PauseRecord {
  const record = check<PauseRecord>(pauseSchema, parseJsonText(text));
  sameKey('service', service, record.service);
  return record;
}

export function parseProtectionRecord(key: { service: string; instance: string }, text: string): ProtectionRecord {
  const record = check<ProtectionRecord>(protectionSchema, parseJsonText(text));
  sameKey('service', key.service, record.service);
  sameKey('instance', key.instance, record.instance);
  return record;
}

export function parseDryRunRecord(text: string): DryRunRecord {
  return check<DryRunRecord>(dryRunSchema, parseJsonText(text));
}

/** A counter under `/_dynamite/stats/`: a non-negative integer. */
export function parseStat(text: string): number {
  if (!/^(0|[1-9]\d{0,15})$/.test(text)) throw new RecordProblem('invalid', `not a counter: ${JSON.stringify(text.slice(0, 60))}`);
  return Number(text);
}

export function parseApplicationStatus(text: string): ApplicationStatus {
  const status = APPLICATION_STATUSES.find((s) => s === text);
  if (status === undefined) {
    throw new RecordProblem('invalid', `${JSON.stringify(text.slice(0, 60))} is not one of ${APPLICATION_STATUSES.join(', ')}`);
  }
  return status;
}

/** A revision stored by the engine (watch revision, machine cursor): decimal digits, not ahead of etcd's `current`. */
export function parseStoredRevision(text: string, current: string): string {
  if (!REVISION.test(text)) throw new RecordProblem('invalid', `${JSON.stringify(text.slice(0, 60))} is not a decimal revision`);
  if (BigInt(text) > BigInt(current)) throw new RecordProblem('ahead_of_etcd', `revision ${text} is ahead of etcd's current revision ${current}`);
  return text;
}
