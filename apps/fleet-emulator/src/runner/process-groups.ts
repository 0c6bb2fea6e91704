import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/**
 * Every process the emulator starts is the leader of its own process group (spawned detached), so a unit's
 * whole tree can be signalled at once. This registry remembers the live groups so that nothing survives the
 * emulator: `killAllGroupsNow` runs from the process `exit` hook, and the reaper below handles the exits no
 * hook sees (SIGKILL, a crash of node itself).
 */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

export function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllGroupsNow);
  }
  tellReaper(`+${pgid}`);
}

export function untrackGroup(pgid: number): void {
  if (liveGroups.delete(pgid)) tellReaper(`-${pgid}`);
}

/**
 * The reaper: one small bash process per emulator process, in a session of its own, that keeps the list of
 * live groups it is told on a pipe (`+PGID`, `-PGID`). The pipe's other end is held by the emulator alone (node
 * opens it close-on-exec), so it closes when the emulator is gone, however it went, even by SIGKILL; the
 * reaper then SIGKILLs every group still listed and exits. Interrupts from a terminal do not reach it.
 */
const REAPER_SCRIPT = `
trap '' INT HUP
declare -A groups
while IFS= read -r line; do
  case "$line" in
    +*) groups[\${line#+}]=1 ;;
    -*) unset "groups[\${line#-}]" ;;
  esac
done
for pgid in "\${!groups[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null; done
`;

let reaper: ChildProcess | null | undefined;

function startReaper(): ChildProcess | null {
  try {
    const child = spawn('bash', ['-c', REAPER_SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    // Without bash (spawn fails asynchronously) the in-process hooks are all there is.
    child.on('error', () => { if (reaper === child) reaper = null; });
    child.stdin!.on('error', () => { if (reaper === child) reaper = null; });
    child.unref();
    (child.stdin as unknown as { unref(): void }).unref();
    return child;
  } catch {
    return null;
  }
}

function tellReaper(line: string): void {
  if (reaper === undefined) reaper = startReaper();
  reaper?.stdin?.write(`${line}\n`);
}

/** The reaper's pid (for tests), starting it if needed; null when it could not be started. */
export function reaperPid(): number | null {
  if (reaper === undefined) reaper = startReaper();
  return reaper?.pid ?? null;
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
  for (const pgid of liveGroups) {
    signalGroup(pgid, 'SIGKILL');
    tellReaper(`-${pgid}`);
  }
  liveGroups.clear();
}

export function liveGroupCount(): number {
  return liveGroups.size;
}

/**
 * The groups among `pgids` that still hold a process that is not a zombie. Orphans are reparented to PID 1,
 * which in a container may never reap them, so "the group exists" is not enough; on Linux /proc tells us
 * whether anything in the group can still run. A scan of /proc taken after `notBefore` (performance.now()) is
 * shared: hundreds of units stopping at once poll one scan, not one each (each scan reads every process's stat).
 */
export function aliveGroups(pgids: Iterable<number>, notBefore = performance.now()): Set<number> {
  const candidates = new Set<number>();
  for (const pgid of pgids) if (groupAlive(pgid)) candidates.add(pgid);
  if (candidates.size === 0) return candidates;
  const running = runningGroups(notBefore);
  if (running === null) return candidates;
  return new Set([...candidates].filter((pgid) => running.has(pgid)));
}

let lastScan: { at: number; running: Set<number> } | null = null;

/** Process groups with a process that is not a zombie, from a /proc scan started after `notBefore` (null: no /proc). */
function runningGroups(notBefore: number): Set<number> | null {
  if (lastScan && lastScan.at > notBefore) return lastScan.running;
  const at = performance.now();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return null;
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
    if (state !== 'Z' && state !== 'X') running.add(Number(fields[2]));
  }
  lastScan = { at, running };
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
