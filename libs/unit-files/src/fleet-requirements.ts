import { goFields } from './go-text';
import { unitNameInfo } from './unit-name';
import type { UnitOption } from './unit-option';

/** The scheduling requirements of a unit's `[X-Fleet]` section, as fleet's job package reads them (§7.6). */
export interface FleetRequirements {
  /** Go path.Match globs from `X-Conflicts` then `Conflicts`, whitespace-split. */
  conflicts: string[];
  /** Globs from `Replaces`. */
  replaces: string[];
  /** Exact unit names from `X-ConditionMachineOf` then `MachineOf`. */
  peers: string[];
  /** First value of `MachineID`, else `X-ConditionMachineID`, else `X-ConditionMachineBootID`. */
  machineId: string | null;
  /** `MachineMetadata` / `X-ConditionMachineMetadata` as key -> allowed values (AND across keys, OR within). */
  metadata: Record<string, string[]>;
  /** `Global=`: the last value decides; truthy is true/yes/1/on/t, case-insensitive. */
  global: boolean;
}

const X_FLEET = 'X-Fleet';
const TRUTHY = ['true', 'yes', '1', 'on', 't'];

/**
 * fleet's parseMultivalueLine: a value that starts and ends with `"` is split on spaces outside quotes,
 * with the quotes dropped; anything else is one value.
 */
export function parseMultivalueLine(line: string): string[] {
  if (!line.startsWith('"') || !line.endsWith('"')) return [line];
  const values: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') { quoted = !quoted; continue; }
    if (ch === ' ' && !quoted) { values.push(current); current = ''; continue; }
    current += ch;
  }
  values.push(current);
  return values;
}

/** fleet's unitPrintf for X-Fleet values: `%n %N %p %i`, in that order, plain replacement, no `%%`. */
export function expandFleetSpecifiers(value: string, unitName: string): string {
  const info = unitNameInfo(unitName);
  return value
    .split('%n').join(info.fullName)
    .split('%N').join(info.name)
    .split('%p').join(info.prefix)
    .split('%i').join(info.instance);
}

/** Every X-Fleet key with its values in file order, multivalue-split and specifier-expanded. */
export function xFleetValues(name: string, options: UnitOption[]): Map<string, string[]> {
  // fleet skips expansion when the name has no "." (NewUnitNameInfo returns nil).
  const expand = name.includes('.');
  const values = new Map<string, string[]>();
  for (const option of options) {
    if (option.section !== X_FLEET) continue;
    const list = values.get(option.name) ?? [];
    for (const value of parseMultivalueLine(option.value)) list.push(expand ? expandFleetSpecifiers(value, name) : value);
    values.set(option.name, list);
  }
  return values;
}

export function fleetRequirements(name: string, options: UnitOption[]): FleetRequirements {
  const values = xFleetValues(name, options);
  const get = (key: string): string[] => values.get(key) ?? [];

  const conflicts = [...get('X-Conflicts'), ...get('Conflicts')].flatMap(goFields);
  const replaces = get('Replaces');
  const peers = [...get('X-ConditionMachineOf'), ...get('MachineOf')];

  let machineId: string | null = null;
  for (const key of ['MachineID', 'X-ConditionMachineID', 'X-ConditionMachineBootID']) {
    const list = get(key);
    if (list.length > 0) { machineId = list[0]; break; }
  }

  const metadata: Record<string, string[]> = {};
  for (const pair of [...get('X-ConditionMachineMetadata'), ...get('MachineMetadata')]) {
    const parts = pair.split('=');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') continue;
    const allowed = (metadata[parts[0]] ??= []);
    if (!allowed.includes(parts[1])) allowed.push(parts[1]);
  }

  const globals = get('Global');
  const global = globals.length > 0 && TRUTHY.includes(globals[globals.length - 1].toLowerCase());

  return { conflicts, replaces, peers, machineId, metadata, global };
}

/** The X-Fleet keys fleet understands; fleetctl warns about the others (the API accepts them). */
export const KNOWN_X_FLEET_KEYS: readonly string[] = [
  'MachineID', 'X-ConditionMachineID', 'X-ConditionMachineBootID', 'MachineMetadata', 'X-ConditionMachineMetadata',
  'MachineOf', 'X-ConditionMachineOf', 'Conflicts', 'X-Conflicts', 'Global', 'Replaces',
];
