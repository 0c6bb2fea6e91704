import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { substituteEnvironment, type ExecCommand } from './command-line';
import { trackGroup, untrackGroup, groupAlive } from './process-groups';

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why the command could not be started (systemd's 200/203 statuses). */
  error?: string;
}

export interface SpawnedCommand {
  pid: number;
  exited: Promise<ExitResult>;
}

/** Where a stream's bytes go; `end` flushes a last line without a newline. */
export interface OutputSink {
  write(chunk: Buffer): void;
  end(): void;
}

export interface SpawnOptions {
  env: Record<string, string>;
  cwd: string;
  stdout: OutputSink;
  stderr: OutputSink;
}

/** systemd's exit status when the program cannot be executed. */
export const EXIT_EXEC = 203;
export const EXIT_CHDIR = 200;

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The program to run: absolute (or containing a slash) as written, otherwise looked up in PATH (an extension). */
export function resolveProgram(word: string, env: Record<string, string>, cwd: string): string | null {
  if (word.includes('/')) {
    const file = path.resolve(cwd, word);
    return isExecutableFile(file) ? file : null;
  }
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const file = path.join(dir, word);
    if (isExecutableFile(file)) return file;
  }
  return null;
}

/**
 * Starts one command line in its own process group. A command that cannot start resolves at once with
 * systemd's exit status and the reason.
 */
export function spawnCommand(command: ExecCommand, options: SpawnOptions): SpawnedCommand | ExitResult {
  const argv = command.noEnvironment ? command.words : substituteEnvironment(command.words, options.env);
  if (argv.length === 0) return { code: EXIT_EXEC, signal: null, error: `empty command line after substitution: ${command.text}` };
  const program = resolveProgram(argv[0], options.env, options.cwd);
  if (program === null) return { code: EXIT_EXEC, signal: null, error: `Failed to locate executable ${argv[0]}: No such file or directory` };
  let child;
  try {
    child = spawn(program, argv.slice(1), {
      argv0: command.argv0 ?? argv[0],
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    return { code: EXIT_EXEC, signal: null, error: `Failed to execute ${program}: ${(err as Error).message}` };
  }
  const pid = child.pid;
  if (pid === undefined) {
    // The spawn failed asynchronously (e.g. EACCES); the error event follows.
    return { code: EXIT_EXEC, signal: null, error: `Failed to execute ${program}` };
  }
  trackGroup(pid);
  child.stdout!.on('data', (chunk: Buffer) => options.stdout.write(chunk));
  child.stdout!.on('end', () => options.stdout.end());
  child.stderr!.on('data', (chunk: Buffer) => options.stderr.write(chunk));
  child.stderr!.on('end', () => options.stderr.end());
  const exited = new Promise<ExitResult>((resolve) => {
    child.once('error', (err) => resolve({ code: EXIT_EXEC, signal: null, error: `Failed to execute ${program}: ${err.message}` }));
    child.once('exit', (code, signal) => {
      if (!groupAlive(pid)) untrackGroup(pid);
      resolve({ code, signal });
    });
  });
  return { pid, exited };
}
