import fs from 'node:fs';
import path from 'node:path';
import { substituteEnvironment, type ExecCommand } from './command-line';
import { trackGroup, untrackGroup, groupAlive } from './process-groups';
import { spawnChild } from './spawner';

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
 * Starts one command line in its own process group, through the spawner process (the emulator's event loop does
 * not wait for the fork and exec). A command that cannot start resolves with systemd's exit status and the reason.
 */
export async function spawnCommand(command: ExecCommand, options: SpawnOptions): Promise<SpawnedCommand | ExitResult> {
  const argv = command.noEnvironment ? command.words : substituteEnvironment(command.words, options.env);
  if (argv.length === 0) return { code: EXIT_EXEC, signal: null, error: `empty command line after substitution: ${command.text}` };
  const program = resolveProgram(argv[0], options.env, options.cwd);
  if (program === null) return { code: EXIT_EXEC, signal: null, error: `Failed to locate executable ${argv[0]}: No such file or directory` };
  const child = await spawnChild({ file: program, args: argv.slice(1), argv0: command.argv0 ?? argv[0], cwd: options.cwd, env: options.env }, options.stdout, options.stderr);
  if ('error' in child) return { code: EXIT_EXEC, signal: null, error: `Failed to execute ${program}: ${child.error}` };
  const pid = child.pid;
  trackGroup(pid);
  const exited = child.exited.then((result): ExitResult => {
    if (!groupAlive(pid)) untrackGroup(pid);
    return { code: result.code, signal: result.signal, ...(result.error !== undefined ? { error: result.error } : {}) };
  });
  return { pid, exited };
}
