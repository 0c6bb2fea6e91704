import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { signalGroup } from './process-groups';

/** What the emulator asks of the spawner process: start one program. */
export interface SpawnerRequest {
  id: number;
  file: string;
  args: string[];
  argv0: string;
  cwd: string;
  env: Record<string, string>;
}

export type SpawnerReply =
  | { type: 'spawned'; id: number; pid: number }
  | { type: 'failed'; id: number; error: string }
  | { type: 'output'; id: number; fd: 1 | 2; data: string }
  | { type: 'end'; id: number; fd: 1 | 2 }
  | { type: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null; error?: string };

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
}

export interface ChildOutput {
  write(chunk: Buffer): void;
  end(): void;
}

/** A started process: its pid, and its exit as the spawner saw it. */
export interface SpawnedChild {
  pid: number;
  exited: Promise<ChildExit>;
}

interface Pending {
  output: [ChildOutput, ChildOutput];
  started: (result: SpawnedChild | { error: string }) => void;
  pid: number | null;
  exit: (result: ChildExit) => void;
}

/** The message a unit's journal shows for a process whose spawner died (see `spawnChild`). */
export const SPAWNER_DIED = 'the emulator\'s spawner process exited; the processes it had started were killed';

let spawner: ChildProcess | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

function startSpawner(): ChildProcess {
  const child = fork(path.join(__dirname, 'spawner-process.js'), [], {
    execArgv: [],
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'json',
  });
  child.on('message', (reply: SpawnerReply) => onReply(reply));
  child.once('exit', () => onSpawnerExit(child));
  child.on('error', () => undefined); // a send after it died; the exit handler settles everything
  // Neither the process nor its channel keeps the emulator's process alive.
  child.unref();
  (child.channel as unknown as { unref(): void } | undefined)?.unref();
  return child;
}

function onReply(reply: SpawnerReply): void {
  const entry = pending.get(reply.id);
  if (!entry) return;
  switch (reply.type) {
    case 'spawned': {
      entry.pid = reply.pid;
      const exited = new Promise<ChildExit>((resolve) => { entry.exit = resolve; });
      return entry.started({ pid: reply.pid, exited });
    }
    case 'failed':
      pending.delete(reply.id);
      return entry.started({ error: reply.error });
    case 'output':
      return entry.output[reply.fd - 1].write(Buffer.from(reply.data, 'base64'));
    case 'end':
      return entry.output[reply.fd - 1].end();
    case 'exit':
      pending.delete(reply.id);
      return entry.exit({ code: reply.code, signal: reply.signal, error: reply.error });
  }
}

/**
 * The spawner died (killed from outside, or crashed): the processes it started are no longer anyone's
 * children, so their exits would never be seen. They are SIGKILLed and reported as failed; spawns waiting
 * for it fail; the next spawn starts a new spawner.
 */
function onSpawnerExit(child: ChildProcess): void {
  if (spawner === child) spawner = null;
  for (const [id, entry] of pending) {
    pending.delete(id);
    if (entry.pid === null) {
      entry.started({ error: SPAWNER_DIED });
      continue;
    }
    signalGroup(entry.pid, 'SIGKILL');
    for (const output of entry.output) output.end();
    entry.exit({ code: null, signal: 'SIGKILL', error: SPAWNER_DIED });
  }
}

/**
 * Starts a program in its own process group through the spawner process, so that the fork and exec never block the
 * emulator's event loop. Resolves once it runs (with its pid) or could not be started.
 */
export function spawnChild(request: Omit<SpawnerRequest, 'id'>, stdout: ChildOutput, stderr: ChildOutput): Promise<SpawnedChild | { error: string }> {
  spawner ??= startSpawner();
  const id = nextId++;
  return new Promise((started) => {
    pending.set(id, { output: [stdout, stderr], started, pid: null, exit: () => undefined });
    spawner!.send({ ...request, id } satisfies SpawnerRequest);
  });
}

/** The spawner's pid (for tests), starting it if needed. */
export function spawnerPid(): number {
  spawner ??= startSpawner();
  return spawner.pid!;
}
