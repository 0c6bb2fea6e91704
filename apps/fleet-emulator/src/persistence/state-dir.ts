import fs from 'node:fs';
import path from 'node:path';
import type { UnitOption } from '@dynamite/unit-files';
import { isJobState, type JobState } from '../registry/job-state';

/** What `--state_dir` keeps: machine ids, units with options and desired state, dynamic metadata. */
export interface PersistedState {
  version: 1;
  machines: string[];
  units: Array<{ name: string; desiredState: JobState; options: UnitOption[] }>;
  metadata: Record<string, Record<string, string>>;
}

export const STATE_FILE = 'fleet-emulator-state.json';

export class StateDirError extends Error {}

export function loadState(dir: string): PersistedState | null {
  const file = path.join(dir, STATE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StateDirError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new StateDirError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const problem = checkState(data);
  if (problem) throw new StateDirError(`${file}: ${problem}`);
  return data as PersistedState;
}

function checkState(data: unknown): string | null {
  if (typeof data !== 'object' || data === null) return 'expected a JSON object';
  const s = data as Record<string, unknown>;
  if (s.version !== 1) return `unsupported version ${JSON.stringify(s.version)} (expected 1)`;
  if (!Array.isArray(s.machines) || s.machines.some((m) => typeof m !== 'string' || !/^[0-9a-f]{32}$/.test(m))) return '"machines" must be a list of 32-hex machine ids';
  if (!Array.isArray(s.units)) return '"units" must be a list';
  for (const [i, u] of (s.units as unknown[]).entries()) {
    const unit = u as Record<string, unknown>;
    if (typeof unit?.name !== 'string') return `units[${i}].name must be a string`;
    if (typeof unit.desiredState !== 'string' || !isJobState(unit.desiredState)) return `units[${i}].desiredState must be inactive, loaded or launched`;
    if (!Array.isArray(unit.options) || unit.options.some((o) => typeof o?.section !== 'string' || typeof o?.name !== 'string' || typeof o?.value !== 'string')) {
      return `units[${i}].options must be a list of {section, name, value} strings`;
    }
  }
  if (typeof s.metadata !== 'object' || s.metadata === null) return '"metadata" must be an object';
  return null;
}

/** Writes the state atomically (temporary file, then rename). */
export function saveState(dir: string, state: PersistedState): void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  fs.renameSync(tmp, file);
}
