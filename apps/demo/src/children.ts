import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface ManagedChild {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Resolves when the process exited (code, or the signal's name). */
  exited: Promise<string>;
  exitedYet: boolean;
  /** Why it exited (`exit code 1`, `SIGKILL`, ...), once it did. */
  exitReason: string | null;
  /** Set once we asked it to stop: its exit is then expected. */
  stopping: boolean;
}

/**
 * The processes the demo starts. Each runs in its own process group (so Ctrl-C in the terminal reaches only the
 * demo, which then stops them in order) with stdout and stderr going to a log file in the run dir.
 */
export class Children {
  readonly all: ManagedChild[] = [];

  constructor(readonly logDir: string) {
    fs.mkdirSync(logDir, { recursive: true });
  }

  start(name: string, command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ManagedChild {
    const logFile = path.join(this.logDir, `${name}.log`);
    const fd = fs.openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env, cwd: opts.cwd });
    } finally {
      fs.closeSync(fd);
    }
    const managed: ManagedChild = {
      name,
      child,
      pid: child.pid ?? -1,
      logFile,
      exited: Promise.resolve(''),
      exitedYet: false,
      exitReason: null,
      stopping: false,
    };
    managed.exited = new Promise<string>((resolve) => {
      child.once('error', (err) => {
        managed.exitedYet = true;
        managed.exitReason = `failed to start: ${err.message}`;
        resolve(managed.exitReason);
      });
      child.once('exit', (code, signal) => {
        managed.exitedYet = true;
        managed.exitReason = signal ?? `exit code ${code}`;
        resolve(managed.exitReason);
      });
    });
    this.all.push(managed);
    return managed;
  }

  /** SIGTERM to the child's process group, SIGKILL to the group after `graceMs`. */
  async stop(managed: ManagedChild, graceMs = 5000): Promise<void> {
    managed.stopping = true;
    if (managed.exitedYet || managed.pid <= 0) {
      killGroup(managed.pid, 'SIGKILL'); // whatever it left in its group
      return;
    }
    killGroup(managed.pid, 'SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([managed.exited, timer])) === 'timeout') {
      killGroup(managed.pid, 'SIGKILL');
      await Promise.race([managed.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    killGroup(managed.pid, 'SIGKILL');
  }

  /** The last lines of a child's log, for error messages. */
  tail(managed: ManagedChild, lines = 15): string {
    try {
      const text = fs.readFileSync(managed.logFile, 'utf8').trimEnd().split('\n');
      return text.slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/** Last resort (process exit): SIGKILL to every group we started, synchronously. */
export function killAllNow(children: Children): void {
  for (const c of children.all) if (!c.exitedYet) killGroup(c.pid, 'SIGKILL');
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Pids of live processes whose command line contains `marker` (Linux /proc), never our own. */
export function processesMentioning(marker: string): number[] {
  if (!fs.existsSync('/proc')) return [];
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(marker)) found.push(pid);
    } catch {
      // gone meanwhile, or not readable
    }
  }
  return found;
}

/**
 * Stops every process whose command line names the run dir: the unit processes the emulator ran for this demo
 * (their ExecStart contains the run's runtime.json), should any have outlived the emulator. Returns how many.
 */
export async function sweepLeftovers(marker: string): Promise<number> {
  const pids = processesMentioning(marker);
  for (const pid of pids) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  }
  if (pids.length === 0) return 0;
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && processesMentioning(marker).length > 0) await new Promise((r) => setTimeout(r, 100));
  for (const pid of processesMentioning(marker)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  return pids.length;
}
