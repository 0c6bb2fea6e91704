import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startFleetEmulator, type FleetEmulator, type FleetEmulatorOptions } from '@dynamite/fleet-emulator';

/** One HTTP exchange read byte for byte, so tests can check header presence and exact bodies. */
export interface RawResponse {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  header(name: string): string | undefined;
  headerCount(name: string): number;
  json(): any;
}

export interface RawRequestOptions {
  headers?: Array<[string, string]>;
  body?: string | Buffer;
}

/** Sends one request over a fresh TCP connection (Connection: close) and parses the response. */
export function rawRequest(port: number, method: string, target: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body, 'utf8');
    const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
    for (const [k, v] of options.headers ?? []) lines.push(`${k}: ${v}`);
    if (body.length > 0 || ['PUT', 'POST', 'PATCH'].includes(method)) lines.push(`Content-Length: ${body.length}`);
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const data = Buffer.concat(chunks);
      const split = data.indexOf('\r\n\r\n');
      if (split === -1) return reject(new Error(`connection closed without a response (${data.length} bytes)`));
      const head = data.subarray(0, split).toString('latin1').split('\r\n');
      const status = Number(head[0].split(' ')[1]);
      const headers: Array<[string, string]> = head.slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i), l.slice(i + 1).trim()];
      });
      let payload: Buffer = data.subarray(split + 4);
      if (headers.some(([k, v]) => k.toLowerCase() === 'transfer-encoding' && v === 'chunked')) payload = dechunk(payload);
      const text = payload.toString('utf8');
      resolve({
        status,
        headers,
        body: text,
        header: (name) => headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1],
        headerCount: (name) => headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).length,
        json: () => JSON.parse(text),
      });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    socket.write(body);
  });
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    const size = parseInt(data.subarray(at, eol).toString(), 16);
    if (!size) break;
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** A small client for the tests, speaking exactly what fleetctl sends. */
export class TestFleet {
  constructor(readonly emulator: FleetEmulator) {}

  get port(): number {
    return this.emulator.port;
  }

  request(method: string, target: string, options?: RawRequestOptions): Promise<RawResponse> {
    return rawRequest(this.port, method, target, options);
  }

  get(target: string): Promise<RawResponse> {
    return this.request('GET', target);
  }

  put(name: string, body: unknown): Promise<RawResponse> {
    return this.request('PUT', `/fleet/v1/units/${encodeURIComponent(name)}`, {
      headers: [['Content-Type', 'application/json']],
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  del(name: string): Promise<RawResponse> {
    return this.request('DELETE', `/fleet/v1/units/${encodeURIComponent(name)}`);
  }

  async unit(name: string): Promise<any | null> {
    const res = await this.get(`/fleet/v1/units/${encodeURIComponent(name)}`);
    return res.status === 404 ? null : res.json();
  }

  async states(query = ''): Promise<any[]> {
    return (await this.get(`/fleet/v1/state${query}`)).json().states ?? [];
  }

  async emulatorUnit(name: string): Promise<any | null> {
    const res = await this.get(`/emulator/units/${encodeURIComponent(name)}`);
    return res.status === 404 ? null : res.json();
  }

  async journal(name: string): Promise<string[]> {
    return (await this.get(`/emulator/units/${encodeURIComponent(name)}/journal`)).json().entries.map((e: { message: string }) => e.message);
  }

  /** Polls until `check` returns a truthy value; fails with the last value seen. */
  async waitFor<T>(what: string, check: () => Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    for (;;) {
      last = await check();
      if (last) return last as NonNullable<T>;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 40));
    }
  }

  async waitForCurrentState(name: string, state: string): Promise<any> {
    return this.waitFor(`${name} currentState ${state}`, async () => {
      const u = await this.unit(name);
      return u?.currentState === state ? u : null;
    });
  }

  async waitForSubState(name: string, active: string, sub: string): Promise<any> {
    return this.waitFor(`${name} ${active}/${sub}`, async () => {
      const s = (await this.states(`?unitName=${encodeURIComponent(name)}`))[0];
      return s?.systemdActiveState === active && s?.systemdSubState === sub ? s : null;
    });
  }

  /**
   * Resolves once `count` full passes (fleet's engine, then every agent) have completed after the call: after
   * two, whatever the emulator was going to do about the state before the call has been done.
   */
  async waitForPasses(count = 2): Promise<number> {
    const res = await this.request('POST', '/emulator/passes/wait', { headers: [['Content-Type', 'application/json']], body: JSON.stringify({ count }) });
    if (res.status !== 200) throw new Error(`POST /emulator/passes/wait: ${res.status} ${res.body}`);
    return res.json().completed;
  }

  async waitForNoState(name: string): Promise<void> {
    await this.waitFor(`${name} to have no /state entry`, async () => (await this.states(`?unitName=${encodeURIComponent(name)}`)).length === 0);
  }
}

/** An emulator in fast mode (agentLagMs 0: states follow a change at once) unless the options say otherwise. */
export async function startTestFleet(options: FleetEmulatorOptions = {}): Promise<TestFleet> {
  return new TestFleet(await startFleetEmulator({ reconcileIntervalMs: 50, stopTimeoutMs: 3000, agentLagMs: 0, ...options }));
}

export const opt = (section: string, name: string, value: string) => ({ section, name, value });

/**
 * Can this pid still run? Gone, a zombie or dead per /proc is false. Orphans are reparented to PID 1, which in a
 * container may never reap them, so signal 0 (which succeeds on zombies) is not enough.
 */
export function processRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return state !== 'Z' && state !== 'X';
}

/** Running processes whose command line is exactly `argv`. */
export function processesRunning(argv: string[]): number[] {
  const wanted = argv.join('\0');
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0$/, '') === wanted && processRunning(Number(entry))) pids.push(Number(entry));
    } catch { /* gone */ }
  }
  return pids;
}

/** Is a process with this pid still there (and not a zombie)? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return true;
}

/** bin/dynamite.js of this checkout. */
export const DYNAMITE_BIN = path.resolve(__dirname, '../../../bin/dynamite.js');

/** Resolves with the first stdout line matching `pattern`; fails if the process exits first or after the deadline. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} in: ${out}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => pattern.test(l));
      if (line) { clearTimeout(timer); resolve(line); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code} before ready: ${out}`)); });
  });
}

/** `dynamite fleet-emulator ARGS` as a child process, ready to serve; `exited` resolves with its exit code or signal. */
export interface EmulatorProcess {
  child: ChildProcess;
  port: number;
  stderr(): string;
  exited: Promise<number | NodeJS.Signals | null>;
}

export async function spawnEmulator(port: number, args: string[] = []): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, [DYNAMITE_BIN, 'fleet-emulator', '--listen', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  await waitForLine(child, /^fleet emulator listening on /);
  return { child, port, stderr: () => stderr, exited };
}

/** Rejects when `promise` has not settled after `ms` (a deadline for something that must not hang). */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
