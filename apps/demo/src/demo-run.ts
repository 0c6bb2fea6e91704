import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { Children, killAllNow, type ManagedChild } from './children';
import type { EtcdChoice, RedisChoice } from './infra';
import { Screen } from './live-view';
import type { LoadGenerator } from './load-generator';
import { DemoError } from './net';
import type { Observer } from './observer';
import type { RenderedDemo } from './render';
import type { DemoSettings } from './settings';

/**
 * Everything the steps of one demo run share. The startup steps fill it in as they go; shutdown stops whatever
 * was started (a field still null was never started), and the summary reads the timings.
 */
export interface DemoRun {
  readonly settings: DemoSettings;
  /** Wall ms the run started: every `+12.3s` on screen counts from here. */
  readonly t0: number;
  readonly runId: string;
  /** Config, unit files and logs of this run (a temporary dir). */
  readonly runDir: string;
  /** etcd prefix of the demo's registrations and samples, and the queue prefix in Redis. */
  readonly keyRoot: string;
  readonly queuePrefix: string;
  readonly children: Children;
  readonly abort: AbortController;
  readonly screen: Screen;
  /** Set by the first Ctrl-C (or SIGTERM, SIGHUP). */
  interrupted: boolean;

  redisChoice: RedisChoice | null;
  etcdChoice: EtcdChoice | null;
  rendered: RenderedDemo | null;
  emulator: ManagedChild | null;
  /** The scheduler first, then the workers. */
  engine: ManagedChild[];
  etcd: Etcd3 | null;
  observer: Observer | null;
  load: LoadGenerator | null;

  /** Seconds until the service was ready, and of traffic; `performance.now()` when the traffic started (0: never). */
  startupS: number;
  trafficS: number;
  trafficStarted: number;
  instancesAtStart: number;
}

export function newDemoRun(settings: DemoSettings): DemoRun {
  const runId = randomBytes(3).toString('hex');
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `dynamite-demo-${runId}-`));
  return {
    settings,
    t0: Date.now(),
    runId,
    runDir,
    keyRoot: `/demo-${runId}`,
    queuePrefix: `demo-${runId}`,
    children: new Children(path.join(runDir, 'logs')),
    abort: new AbortController(),
    screen: new Screen(settings.out, settings.tty),
    interrupted: false,
    redisChoice: null,
    etcdChoice: null,
    rendered: null,
    emulator: null,
    engine: [],
    etcd: null,
    observer: null,
    load: null,
    startupS: 0,
    trafficS: 0,
    trafficStarted: 0,
    instancesAtStart: 0,
  };
}

/** Prints lines above the live view. */
export function say(run: DemoRun, ...lines: string[]): void {
  run.screen.print(lines);
}

/** Fails the run when a process we rely on died on its own. */
export function failIfAChildDied(run: DemoRun): void {
  const relied = [
    ...run.engine,
    ...(run.emulator ? [run.emulator] : []),
    ...(run.etcdChoice?.child ? [run.etcdChoice.child] : []),
    ...(run.redisChoice?.child ? [run.redisChoice.child] : []),
  ];
  for (const c of relied) {
    if (c.exitedYet && !c.stopping) {
      throw new DemoError(`${c.name} (pid ${c.pid}) exited unexpectedly (${c.exitReason}); last lines of ${c.logFile}:\n${run.children.tail(c)}`);
    }
  }
}

/**
 * Ctrl-C (SIGINT, SIGTERM, SIGHUP) aborts the run, which then stops everything in order; a second one kills every
 * child at once and exits. Process exit kills whatever is left. Returns the function that removes the handlers.
 */
export function handleSignals(run: DemoRun): () => void {
  const { out } = run.settings;
  const onSignal = (signal: NodeJS.Signals) => {
    if (run.abort.signal.aborted) {
      // A second Ctrl-C: no more waiting.
      killAllNow(run.children);
      process.exit(130);
    }
    run.interrupted = true;
    run.screen.clearBlock(true);
    out.write(`\n${signal}: stopping everything the demo started (Ctrl-C again to kill at once)\n`);
    run.abort.abort();
  };
  const onExit = () => killAllNow(run.children);
  // A closed terminal (EIO, EPIPE) must not stop the cleanup half way.
  out.on('error', () => undefined);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', onExit);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('exit', onExit);
  };
}

/** Waits `ms`, or less when the run is aborted meanwhile. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
