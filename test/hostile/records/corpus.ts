import { keys } from '@dynamite/domain';
import type { RecordKind, RejectReason } from '@dynamite/store';

/**
 * Garbage for every record kind under /_dynamite, as a metric producer with write access to the same etcd (or a bug,
 * or a half-restored backup) could leave it. Each variant says what must become of it:
 *   rejected  skipped, counted in dynamite_records_rejected_total{kind,reason} and logged once with its key;
 *   refused   a well-formed record the engine would never have written (a fleet action on units that are not the
 *             service's): its action is recorded as failed ("refused: ...") and no unit is touched.
 */
export interface Variant {
  kind: RecordKind;
  name: string;
  key: string;
  value: string;
  /** Well-formed records the variant needs next to it (e.g. the instance record an action is about). */
  with?: Record<string, string>;
  expect: { rejected: RejectReason } | { refused: RegExp };
}

export const NOW = Date.now();
export const ID = '0mx0aaaaa-0123456789';
const json = (v: unknown) => JSON.stringify(v);

const instanceKey = (name: string) => keys.instance('web', name);
const instance = (name: string, port: number, over: Record<string, unknown> = {}) => ({
  name, state: 'launched', attached_services: [{ name: `web_disc@${port}.service`, state: 'launched', attached_services: [] }],
  port, created_at: NOW, decision_id: null, origin: 'decision', ...over,
});

const TEMPLATE_KEY = keys.serviceTemplate('web');
const template = (over: Record<string, unknown> = {}, details: Record<string, unknown> = {}) => ({
  name: 'web',
  unit_file_details_json_dict: { desiredState: 'inactive', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' }] },
  path_on_filesystem: null,
  service_config_details: { name: 'web', name_of_unit_file: 'web@.service', min_instance: 1, max_instance: 3, base_instance_prefix_number: 28080, ports_per_instance: 1, ...details },
  is_template: true,
  used_port_numbers: [28080, 0, 0],
  attached_services: [],
  fleet_service_instances: {},
  ...over,
});

export const MACHINE_KEY = keys.machine('web', 'web_up', 'u-1');
const armed = (over: Record<string, unknown> = {}) => ({
  timerId: ID, armedAt: NOW, expiresAt: NOW + 60_000, samples: 2, firstSampleKey: '2026-01-01T00:00:00Z',
  newestSampleKey: '2026-01-01T00:00:01Z', newestValue: 95, newestReceivedAt: NOW, ...over,
});
const machine = (over: Record<string, unknown> = {}, state: Record<string, unknown> = {}) => ({
  state: { lastSeenKey: '2026-01-01T00:00:01Z', lastSeenTs: NOW, armed: armed(), cooldownNotedUntil: null, ...state },
  cursor: null, updatedAt: NOW, ...over,
});

export const COOLDOWN_KEY = keys.cooldown('web', 'web_up');

export const ACTION_KEY = keys.action('web', ID);
const action = (over: Record<string, unknown> = {}) => ({
  decisionId: ID, service: 'web', kind: 'scale_down', instance: 'web@28080.service', attached: ['web_disc@28080.service'],
  reason: 'web_down', status: 'pending', createdAt: NOW, dueAt: null, finishedAt: null, attempts: 0, error: null, result: null, ...over,
});

export const DECISION_KEY = keys.decision('web', ID);
const decision = (over: Record<string, unknown> = {}) => ({
  id: ID, at: NOW, service: 'web', policy: 'web_up', machine: 'u-1', direction: 'up', outcome: 'armed', reason: null,
  rule: 'cpu_user gt 80 for 1m', inputs: {}, action: null, message: 'armed', ...over,
});

export const STAT_KEY = keys.stat('samples_rejected_test');

export const CORPUS: Variant[] = [
  // ---- instance ---------------------------------------------------------------------------------------------
  { kind: 'instance', name: 'not JSON', key: instanceKey('web@28081.service'), value: '{"name":', expect: { rejected: 'not_json' } },
  { kind: 'instance', name: 'JSON null', key: instanceKey('web@28081.service'), value: 'null', expect: { rejected: 'invalid' } },
  { kind: 'instance', name: 'a list', key: instanceKey('web@28081.service'), value: '[]', expect: { rejected: 'invalid' } },
  { kind: 'instance', name: 'a number', key: instanceKey('web@28081.service'), value: '42', expect: { rejected: 'invalid' } },
  { kind: 'instance', name: 'unknown state', key: instanceKey('web@28081.service'), value: json(instance('web@28081.service', 28081, { state: 'exploded' })), expect: { rejected: 'invalid' } },
  { kind: 'instance', name: 'no state', key: instanceKey('web@28081.service'), value: json(instance('web@28081.service', 28081, { state: undefined })), expect: { rejected: 'invalid' } },
  { kind: 'instance', name: 'port as text', key: instanceKey('web@28081.service'), value: json(instance('web@28081.service', 28081, { port: '28081' })), expect: { rejected: 'invalid' } },
  { kind: 'instance', name: 'port not the one in its name', key: instanceKey('web@28081.service'), value: json(instance('web@28081.service', 28081, { port: 28082 })), expect: { rejected: 'invalid' } },
  { kind: 'instance', name: 'created_at as text', key: instanceKey('web@28081.service'), value: json(instance('web@28081.service', 28081, { created_at: 'yesterday' })), expect: { rejected: 'invalid' } },
  { kind: 'instance', name: 'decision_id with a path', key: instanceKey('web@28081.service'), value: json(instance('web@28081.service', 28081, { decision_id: '../../actions/x' })), expect: { rejected: 'invalid' } },
  { kind: 'instance', name: '1000 attached units', key: instanceKey('web@28081.service'), value: json(instance('web@28081.service', 28081, { attached_services: Array.from({ length: 1000 }, () => 'web_disc@28081.service') })), expect: { rejected: 'invalid' } },
  { kind: 'instance', name: 'name field names another instance', key: instanceKey('web@28081.service'), value: json(instance('web@28082.service', 28082)), expect: { rejected: 'key_mismatch' } },
  { kind: 'instance', name: 'key is not a unit name', key: instanceKey('web 28081;rm -rf ~.service'), value: json({ state: 'launched' }), expect: { rejected: 'invalid' } },
  { kind: 'instance', name: "another service's unit, launched", key: instanceKey('bystander.service'), value: json({ name: 'bystander.service', state: 'launched', attached_services: [], port: null, created_at: NOW + 1e9, decision_id: null, origin: 'decision' }), expect: { rejected: 'not_an_instance' } },
  { kind: 'instance', name: 'port with a leading zero', key: instanceKey('web@028081.service'), value: json(instance('web@028081.service', 28081, { port: undefined })), expect: { rejected: 'not_an_instance' } },
  { kind: 'instance', name: 'attached unit that is not its own', key: instanceKey('web@28081.service'), value: json(instance('web@28081.service', 28081, { attached_services: [{ name: 'bystander.service', state: 'launched' }] })), expect: { rejected: 'not_an_instance' } },
  { kind: 'instance', name: 'launched outside the ports (never launched by reconcile)', key: instanceKey('web@28090.service'), value: json(instance('web@28090.service', 28090)), expect: { rejected: 'not_launchable' } },
  { kind: 'instance', name: 'service name with a terminal escape in the key', key: keys.instance('we\u001b[2Jb', 'we\u001b[2Jb@1.service'), value: json({ state: 'launched' }), expect: { rejected: 'invalid' } },

  // ---- template ---------------------------------------------------------------------------------------------
  { kind: 'template', name: 'not JSON', key: TEMPLATE_KEY, value: 'fleet_service_template', expect: { rejected: 'not_json' } },
  { kind: 'template', name: 'empty object', key: TEMPLATE_KEY, value: '{}', expect: { rejected: 'invalid' } },
  { kind: 'template', name: 'names another service', key: TEMPLATE_KEY, value: json(template({ name: 'other' })), expect: { rejected: 'key_mismatch' } },
  { kind: 'template', name: 'options not a list', key: TEMPLATE_KEY, value: json(template({ unit_file_details_json_dict: { desiredState: 'inactive', options: 'ExecStart=/bin/sh' } })), expect: { rejected: 'invalid' } },
  { kind: 'template', name: 'max_instance as text', key: TEMPLATE_KEY, value: json(template({}, { max_instance: 'lots' })), expect: { rejected: 'invalid' } },
  { kind: 'template', name: 'is_template as text', key: TEMPLATE_KEY, value: json(template({ is_template: 'yes' })), expect: { rejected: 'invalid' } },
  { kind: 'template', name: 'unit file that is not a unit name', key: TEMPLATE_KEY, value: json(template({}, { name_of_unit_file: '../../etc/passwd' })), expect: { rejected: 'invalid' } },

  // ---- machine ----------------------------------------------------------------------------------------------
  { kind: 'machine', name: 'not JSON', key: MACHINE_KEY, value: 'armed', expect: { rejected: 'not_json' } },
  { kind: 'machine', name: 'empty object', key: MACHINE_KEY, value: '{}', expect: { rejected: 'invalid' } },
  { kind: 'machine', name: 'armed until "never"', key: MACHINE_KEY, value: json(machine({}, { armed: armed({ expiresAt: 'never' }) })), expect: { rejected: 'invalid' } },
  { kind: 'machine', name: 'armed without a timer id', key: MACHINE_KEY, value: json(machine({}, { armed: armed({ timerId: undefined }) })), expect: { rejected: 'invalid' } },
  { kind: 'machine', name: 'armed with no samples', key: MACHINE_KEY, value: json(machine({}, { armed: armed({ samples: -1 }) })), expect: { rejected: 'invalid' } },
  { kind: 'machine', name: 'state null', key: MACHINE_KEY, value: json(machine({ state: null })), expect: { rejected: 'invalid' } },
  { kind: 'machine', name: 'cursor ahead of etcd (blind forever)', key: MACHINE_KEY, value: json(machine({ cursor: '99999999999' })), expect: { rejected: 'ahead_of_etcd' } },
  { kind: 'machine', name: 'timer id with a path', key: MACHINE_KEY, value: json(machine({}, { armed: armed({ timerId: 'a/b|c' }) })), expect: { rejected: 'invalid' } },

  // ---- cooldown ---------------------------------------------------------------------------------------------
  { kind: 'cooldown', name: 'not JSON', key: COOLDOWN_KEY, value: '{until: 1}', expect: { rejected: 'not_json' } },
  { kind: 'cooldown', name: 'without decisionId', key: COOLDOWN_KEY, value: json({ until: NOW + 60_000, startedAt: NOW }), expect: { rejected: 'invalid' } },
  { kind: 'cooldown', name: 'until "tomorrow"', key: COOLDOWN_KEY, value: json({ until: 'tomorrow', decisionId: ID, startedAt: NOW }), expect: { rejected: 'invalid' } },
  { kind: 'cooldown', name: 'decisionId with a path', key: COOLDOWN_KEY, value: json({ until: NOW + 60_000, decisionId: '../x', startedAt: NOW }), expect: { rejected: 'invalid' } },
  { kind: 'cooldown', name: 'a list', key: COOLDOWN_KEY, value: '[1,2]', expect: { rejected: 'invalid' } },

  // ---- action -----------------------------------------------------------------------------------------------
  { kind: 'action', name: 'unknown kind (was carried out as a scale down)', key: ACTION_KEY, value: json(action({ kind: 'explode', attached: [] })), expect: { rejected: 'invalid' } },
  { kind: 'action', name: 'not JSON', key: ACTION_KEY, value: 'scale_down web@28080.service', expect: { rejected: 'not_json' } },
  { kind: 'action', name: 'unknown status', key: ACTION_KEY, value: json(action({ status: 'whenever' })), expect: { rejected: 'invalid' } },
  { kind: 'action', name: 'negative attempts', key: ACTION_KEY, value: json(action({ attempts: -1 })), expect: { rejected: 'invalid' } },
  { kind: 'action', name: 'instance with a path', key: ACTION_KEY, value: json(action({ instance: 'web@28080.service/../x' })), expect: { rejected: 'invalid' } },
  { kind: 'action', name: 'service not the one in its key', key: ACTION_KEY, value: json(action({ service: 'slow' })), expect: { rejected: 'key_mismatch' } },
  { kind: 'action', name: 'decisionId not the one in its key', key: ACTION_KEY, value: json(action({ decisionId: '0mx0bbbbb-0123456789' })), expect: { rejected: 'key_mismatch' } },
  { kind: 'action', name: "scale down of another service's unit", key: ACTION_KEY, value: json(action({ instance: 'bystander.service', attached: [] })), expect: { refused: /^refused: bystander\.service is not a recorded instance of web$/ } },
  { kind: 'action', name: 'scale down of a launched instance no decision marked', key: ACTION_KEY, value: json(action()), expect: { refused: /^refused: web@28080\.service is launched, not marked for destruction by a decision$/ } },
  {
    kind: 'action', name: 'scale down that also destroys a unit not recorded with the instance', key: ACTION_KEY,
    value: json(action({ attached: ['web_disc@28080.service', 'bystander.service'] })),
    with: { [instanceKey('web@28080.service')]: json(instance('web@28080.service', 28080, { state: 'destroying' })) },
    expect: { refused: /^refused: bystander\.service is not recorded as an attached unit of web@28080\.service$/ },
  },
  {
    kind: 'action', name: 'scale up outside the ports', key: ACTION_KEY,
    value: json(action({ kind: 'scale_up', instance: 'web@28090.service', attached: ['web_disc@28090.service'] })),
    with: { [instanceKey('web@28090.service')]: json(instance('web@28090.service', 28090, { state: 'creating' })) },
    expect: { refused: /^refused: "web@28090\.service" is outside the ports of web \(28080\.\.28082\)$/ },
  },
  {
    kind: 'action', name: 'scale up with an attached unit that is not its own', key: ACTION_KEY,
    value: json(action({ kind: 'scale_up', instance: 'web@28081.service', attached: ['bystander.service'] })),
    with: { [instanceKey('web@28081.service')]: json(instance('web@28081.service', 28081, { state: 'creating' })) },
    expect: { refused: /^refused: "bystander\.service" is not an attached unit of web@28081\.service/ },
  },

  // ---- decision ---------------------------------------------------------------------------------------------
  { kind: 'decision', name: 'not JSON', key: DECISION_KEY, value: 'scaled!', expect: { rejected: 'not_json' } },
  { kind: 'decision', name: 'empty object', key: DECISION_KEY, value: '{}', expect: { rejected: 'invalid' } },
  { kind: 'decision', name: 'unknown outcome', key: DECISION_KEY, value: json(decision({ outcome: 'exploded' })), expect: { rejected: 'invalid' } },
  { kind: 'decision', name: 'at "now"', key: DECISION_KEY, value: json(decision({ at: 'now' })), expect: { rejected: 'invalid' } },
  { kind: 'decision', name: 'id not the one in its key', key: DECISION_KEY, value: json(decision({ id: '0mx0bbbbb-0123456789' })), expect: { rejected: 'key_mismatch' } },
  { kind: 'decision', name: 'action on a unit with a path', key: DECISION_KEY, value: json(decision({ action: { kind: 'scale_up', instance: '../x', attached: [] } })), expect: { rejected: 'invalid' } },

  // ---- stats ------------------------------------------------------------------------------------------------
  { kind: 'stats', name: 'not a number', key: STAT_KEY, value: 'abc', expect: { rejected: 'invalid' } },
  { kind: 'stats', name: 'negative', key: STAT_KEY, value: '-5', expect: { rejected: 'invalid' } },
  { kind: 'stats', name: 'exponent', key: STAT_KEY, value: '1e5', expect: { rejected: 'invalid' } },

  // ---- watch_revision ---------------------------------------------------------------------------------------
  { kind: 'watch_revision', name: 'not a number ("abc" crashed start-up)', key: keys.watchRevision, value: 'abc', expect: { rejected: 'invalid' } },
  { kind: 'watch_revision', name: 'ahead of etcd (the watch was blind)', key: keys.watchRevision, value: '99999999', expect: { rejected: 'ahead_of_etcd' } },
  { kind: 'watch_revision', name: 'negative', key: keys.watchRevision, value: '-1', expect: { rejected: 'invalid' } },
  { kind: 'watch_revision', name: 'empty', key: keys.watchRevision, value: '', expect: { rejected: 'invalid' } },
  { kind: 'watch_revision', name: 'hexadecimal', key: keys.watchRevision, value: '0x10', expect: { rejected: 'invalid' } },

  // ---- application_status -----------------------------------------------------------------------------------
  { kind: 'application_status', name: 'unknown status', key: keys.applicationStatus, value: 'Exploded', expect: { rejected: 'invalid' } },
  { kind: 'application_status', name: 'a terminal escape', key: keys.applicationStatus, value: '\u001b[2JRunning', expect: { rejected: 'invalid' } },
];
