/**
 * The JSON shapes this engine stores under /_dynamite. Instance and template keys keep the original's field names
 * (`name`, `state`, `attached_services`, `used_port_numbers`, ...) so tools written for the original keep working;
 * extra fields are added next to them.
 */
import type { MachineState } from '@dynamite/domain';

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

export function parseJson<T>(text: string | null | undefined): T | null {
  if (text === null || text === undefined || text === '') return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}
