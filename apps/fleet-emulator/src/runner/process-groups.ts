import fs from 'node:fs';

/**
 * Every process the emulator starts is the leader of its own process group (spawned detached), so a unit's
 * whole tree can be signalled at once. This registry remembers the live groups so that nothing survives the
 * emulator: `killAllGroupsNow` runs from the process `exit` hook.
 */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

export function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllGroupsNow);
  }
}

export function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid);
}

/** Sends a signal to a whole group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

export function killAllGroupsNow(): void {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  liveGroups.clear();
}

export function liveGroupCount(): number {
  return liveGroups.size;
}

/**
 * The groups among `pgids` that still hold a process that is not a zombie. Orphans are reparented to PID 1,
 * which in a container may never reap them, so "the group exists" is not enough; on Linux /proc tells us
 * whether anything in the group can still run.
 */
export function aliveGroups(pgids: Iterable<number>): Set<number> {
  const candidates = new Set<number>();
  for (const pgid of pgids) if (groupAlive(pgid)) candidates.add(pgid);
  if (candidates.size === 0) return candidates;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return candidates;
  }
  const running = new Set<number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const pgrp = Number(fields[2]);
    if (state !== 'Z' && state !== 'X' && candidates.has(pgrp)) running.add(pgrp);
  }
  return running;
}

let signalHooksInstalled = false;

/**
 * On SIGINT/SIGTERM/SIGHUP, when nobody else handles the signal, kill every unit process and then let the
 * signal do what it would have done. A host that handles the signal itself (the CLI stops gracefully) is
 * left alone.
 */
export function installSignalHooks(): void {
  if (signalHooksInstalled) return;
  signalHooksInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const hook = () => {
      if (process.listenerCount(signal) > 1) return;
      killAllGroupsNow();
      process.removeListener(signal, hook);
      process.kill(process.pid, signal);
    };
    process.on(signal, hook);
  }
}
