import { spawn } from 'node:child_process';
import type { SpawnerReply, SpawnerRequest } from './spawner';

/**
 * The spawner: a small node process, forked by the emulator, that starts the unit processes it is asked for
 * (each the leader of its own process group) and reports their pid, output and exit over the IPC channel.
 * `child_process.spawn` blocks the calling event loop until the child has exec'd (milliseconds with a big
 * parent, tens of them on a loaded machine); here it blocks this process, not the emulator's HTTP API.
 *
 * When the channel closes (the emulator exited, however it went, even by SIGKILL) every group this process
 * started is SIGKILLed and it exits. Interrupts from a terminal do not reach it (its own process group; ignored).
 */
const groups = new Set<number>();

function send(reply: SpawnerReply): void {
  if (process.connected) process.send!(reply);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function start(request: SpawnerRequest): void {
  const { id } = request;
  let child;
  try {
    child = spawn(request.file, request.args, { argv0: request.argv0, cwd: request.cwd, env: request.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return send({ type: 'failed', id, error: (err as Error).message });
  }
  const pid = child.pid;
  if (pid === undefined) {
    // The spawn failed asynchronously (e.g. EACCES); the error event follows.
    child.once('error', (err) => send({ type: 'failed', id, error: err.message }));
    return;
  }
  groups.add(pid);
  send({ type: 'spawned', id, pid });
  for (const [fd, stream] of [[1, child.stdout!], [2, child.stderr!]] as const) {
    stream.on('data', (chunk: Buffer) => send({ type: 'output', id, fd, data: chunk.toString('base64') }));
    stream.on('end', () => send({ type: 'end', id, fd }));
  }
  child.once('error', (err) => send({ type: 'exit', id, code: null, signal: null, error: err.message }));
  child.once('exit', (code, signal) => {
    if (!groupAlive(pid)) groups.delete(pid);
    send({ type: 'exit', id, code, signal });
  });
}

/** The emulator is gone: nothing it started may outlive it. */
function orphaned(): void {
  for (const pgid of groups) {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
  }
  process.exit(0);
}

for (const signal of ['SIGINT', 'SIGHUP'] as const) process.on(signal, () => undefined);
process.on('message', (request: SpawnerRequest) => start(request));
process.on('disconnect', orphaned);
// A send that finds the channel closed (EPIPE) may come before the disconnect event.
process.on('error', orphaned);
