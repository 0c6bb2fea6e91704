import { fleetRequirements } from './fleet-requirements';
import { goPathMatch } from './go-path-match';
import { goQuote } from './go-text';
import { normalizeUnitOptions } from './unit-file-serializer';
import { UnitFileParseError, type UnitOption } from './unit-option';

/**
 * fleet's ValidateOptions on create (spec §7.5): the serialize -> parse round trip first, then the X-Fleet
 * combination rules, in fleet's order. Returns the exact 400 message of the first failure, or null.
 */
export function validateUnitOptions(name: string, options: UnitOption[]): string | null {
  try {
    normalizeUnitOptions(options);
  } catch (err) {
    if (err instanceof UnitFileParseError) return err.message;
    throw err;
  }

  const req = fleetRequirements(name, options);
  const conflicts = unique(req.conflicts);
  const replaces = unique(req.replaces);
  for (const peer of req.peers) {
    for (const conflict of conflicts) {
      if (goPathMatch(conflict, peer)) return `unresolvable requirements: peer ${goQuote(peer)} matches conflict ${goQuote(conflict)}`;
    }
    for (const replace of replaces) {
      if (goPathMatch(replace, peer)) return `unresolvable requirements: peer ${goQuote(peer)} matches replace ${goQuote(replace)}`;
    }
  }
  const hasMachineId = req.machineId !== null;
  if (hasMachineId) {
    if (req.peers.length > 0) return 'MachineID cannot be used with Peers';
    if (conflicts.length > 0) return 'MachineID cannot be used with Conflicts';
    if (req.global) return 'MachineID cannot be used with Global';
    if (replaces.length > 0) return 'MachineID cannot be used with Replaces';
  }
  if (req.global) {
    if (req.peers.length > 0) return 'Global cannot be used with Peers';
    if (replaces.length > 0) return 'Global cannot be used with Replaces';
  }
  if (conflicts.length > 0 && replaces.length > 0) return 'Conflicts cannot be used with Replaces';
  return null;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
