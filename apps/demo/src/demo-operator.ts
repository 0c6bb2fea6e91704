import { execFile } from 'node:child_process';
import { say, type DemoRun } from './demo-run';
import { authHeader, type OperatorListener } from './listener';
import { DemoError } from './net';
import { DYNAMITE_BIN } from './paths';

/** How long the pause lasts should the demo never resume it (it does; its keys go at the end anyway). */
const PAUSE_FOR = '5m';
const CLI_TIMEOUT_MS = 120_000;
const API_TIMEOUT_MS = 30_000;

export type OperatorState = 'idle' | 'pausing' | 'paused' | 'resuming' | 'resumed';

/** A word of a printed command line, quoted for a POSIX shell when it has to be. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The demo's operator: pauses scaling up of the service with `dynamite pause` (the real CLI, a child process, as an
 * operator types it) and resumes it through the scheduler's API (`DELETE /api/services/:name/pause`, with the
 * listener's credentials), printing each command and its answer. Both run in the background; the traffic's clock
 * waits on `state`, and `throwIfFailed` reports a failure in the traffic's loop.
 */
export class DemoOperator {
  state: OperatorState = 'idle';
  private failure: DemoError | null = null;

  constructor(
    private readonly run: DemoRun,
    private readonly service: string,
    private readonly listener: OperatorListener,
  ) {}

  private get stamp(): string {
    return `+${((Date.now() - this.run.t0) / 1000).toFixed(1)}s`;
  }

  /** `dynamite pause <service> --up --for 5m --reason <reason> -e <etcd>`; `state` is `paused` once it returned. */
  pauseUp(reason: string): void {
    if (this.state !== 'idle') return;
    this.state = 'pausing';
    const args = ['pause', this.service, '--up', '--for', PAUSE_FOR, '--reason', reason, '-e', this.run.etcdChoice!.endpoint];
    say(this.run, `${this.stamp}  operator: dynamite ${args.map(shellWord).join(' ')}`);
    execFile(process.execPath, [DYNAMITE_BIN, ...args], { timeout: CLI_TIMEOUT_MS, signal: this.run.abort.signal }, (err, stdout, stderr) => {
      if (this.run.abort.signal.aborted) return;
      if (err) {
        this.failure = new DemoError(`\`dynamite pause\` failed (${err.message.split('\n')[0]}): ${`${stderr}${stdout}`.trim() || 'no output'}`);
        return;
      }
      this.state = 'paused';
      say(this.run, ...stdout.trimEnd().split('\n').map((l) => `           ${l}`));
    });
  }

  /** `DELETE /api/services/<service>/pause` on the listener; `state` is `resumed` once it answered. */
  resume(why: string): void {
    if (this.state !== 'paused') return;
    this.state = 'resuming';
    const auth = this.listener.credentials === null ? '' : ' -u "$DYNAMITE_HTTP_USER:$DYNAMITE_HTTP_PASSWORD"';
    say(this.run, `${this.stamp}  operator (${why}): curl${auth} -X DELETE ${this.listener.pauseUrl}`);
    void this.deletePause().then(
      (body) => {
        this.state = 'resumed';
        say(this.run, `           ${body}`);
      },
      (err: unknown) => {
        if (this.run.abort.signal.aborted) return;
        this.failure = new DemoError(`resuming through ${this.listener.pauseUrl} failed: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  }

  private async deletePause(): Promise<string> {
    const res = await fetch(this.listener.pauseUrl, {
      method: 'DELETE',
      headers: authHeader(this.listener),
      signal: AbortSignal.any([this.run.abort.signal, AbortSignal.timeout(API_TIMEOUT_MS)]),
    });
    const body = (await res.text()).trim();
    if (!res.ok) throw new Error(`${res.status} ${body}`);
    return body;
  }

  get paused(): boolean {
    return this.state === 'paused' || this.state === 'resuming' || this.state === 'resumed';
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}
