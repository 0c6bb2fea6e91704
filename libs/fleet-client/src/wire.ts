/**
 * fleet's JSON on the wire. Responses omit every empty field (Go `omitempty`), so decoding fills in "" and [];
 * requests are encoded the way fleet's Go client does (same keys, same order, empty fields omitted).
 */
import type { UnitOption } from '@dynamite/unit-files';
import type { FleetMachine, FleetUnit, FleetUnitState, MachineMetadataOp, PutUnitBody } from './types';
import { isJobState } from './types';

type Json = Record<string, unknown>;

function asObject(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

function asString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function decodeUnitOption(raw: unknown): UnitOption {
  const o = asObject(raw);
  return { section: asString(o.section), name: asString(o.name), value: asString(o.value) };
}

export function decodeUnit(raw: unknown): FleetUnit {
  const o = asObject(raw);
  return {
    name: asString(o.name),
    options: asArray(o.options).map(decodeUnitOption),
    desiredState: isJobState(o.desiredState) ? o.desiredState : '',
    currentState: isJobState(o.currentState) ? o.currentState : '',
    machineID: asString(o.machineID),
  };
}

export function decodeUnitState(raw: unknown): FleetUnitState {
  const o = asObject(raw);
  return {
    name: asString(o.name),
    hash: asString(o.hash),
    machineID: asString(o.machineID),
    systemdLoadState: asString(o.systemdLoadState),
    systemdActiveState: asString(o.systemdActiveState),
    systemdSubState: asString(o.systemdSubState),
  };
}

export function decodeMachine(raw: unknown): FleetMachine {
  const o = asObject(raw);
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(asObject(o.metadata))) {
    if (typeof value === 'string') metadata[key] = value;
  }
  return { id: asString(o.id), primaryIP: asString(o.primaryIP), metadata };
}

/** One page of a list: its items under `key` (missing -> []) and the next token, if any. */
export function decodePage(raw: unknown, key: 'units' | 'states' | 'machines'): { items: unknown[]; nextPageToken: string } {
  const o = asObject(raw);
  return { items: asArray(o[key]), nextPageToken: asString(o.nextPageToken) };
}

/** fleet's `{"error":{"code","message"}}`; anything else (an HTML page from a proxy) becomes the message. */
export function decodeErrorBody(text: string, status: number): { code: number; message: string } {
  try {
    const error = asObject(asObject(JSON.parse(text)).error);
    if (typeof error.message === 'string') {
      return { code: typeof error.code === 'number' ? error.code : status, message: error.message };
    }
  } catch {
    // not JSON: fall through
  }
  const body = text.trim().replace(/\s+/g, ' ');
  return { code: status, message: body.length > 200 ? `${body.slice(0, 200)}...` : body };
}

function encodeUnitOption(option: UnitOption): Json {
  const out: Json = {};
  if (option.name !== '') out.name = option.name;
  if (option.section !== '') out.section = option.section;
  if (option.value !== '') out.value = option.value;
  return out;
}

/** `{"desiredState":…,"name":…,"options":[…]}` as fleetctl sends it (9.1, 9.3). */
export function encodePutUnitBody(name: string, body: PutUnitBody): Json {
  const out: Json = {};
  if (body.desiredState !== undefined) out.desiredState = body.desiredState;
  out.name = name;
  if (body.options !== undefined && body.options.length > 0) out.options = body.options.map(encodeUnitOption);
  return out;
}

export function encodeMetadataOp(op: MachineMetadataOp): Json {
  const out: Json = { op: op.op, path: op.path };
  if (op.value !== undefined) out.value = { value: op.value.value };
  return out;
}
