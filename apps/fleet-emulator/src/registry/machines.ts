import { createHash } from 'node:crypto';

/** A simulated fleet machine. */
export interface SimMachine {
  id: string;
  primaryIP: string;
  /** fleetd's `metadata=` configuration. */
  configuredMetadata: Record<string, string>;
}

/** Stable 32-hex machine ids derived from a seed (the state dir, or a fixed default). */
export function deriveMachineIds(seed: string, count: number, existing: string[] = []): string[] {
  const ids = existing.slice(0, count);
  for (let i = ids.length; i < count; i++) {
    ids.push(createHash('sha1').update(`fleet-emulator machine ${i} ${seed}`).digest('hex').slice(0, 32));
  }
  return ids;
}

/**
 * Machines and their metadata (spec §6): configured metadata merged with dynamic metadata from PATCH,
 * where a dynamic value wins and a dynamic "" (from remove) deletes the key. Dynamic metadata is kept per
 * machine id, also for machines that do not exist (yet).
 */
export class MachineSet {
  readonly dynamic = new Map<string, Map<string, string>>();

  constructor(private readonly list: SimMachine[]) {}

  all(): SimMachine[] {
    return [...this.list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  has(id: string): boolean {
    return this.list.some((m) => m.id === id);
  }

  metadata(id: string): Record<string, string> {
    const machine = this.list.find((m) => m.id === id);
    const merged: Record<string, string> = { ...(machine?.configuredMetadata ?? {}) };
    for (const [key, value] of this.dynamic.get(id) ?? []) {
      if (value === '') delete merged[key];
      else merged[key] = value;
    }
    return merged;
  }

  setDynamic(id: string, key: string, value: string): void {
    let map = this.dynamic.get(id);
    if (!map) { map = new Map(); this.dynamic.set(id, map); }
    map.set(key, value);
  }
}
