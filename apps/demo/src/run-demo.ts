import fs from 'node:fs';
import { handleSignals, newDemoRun, say, type DemoRun } from './demo-run';
import { DemoAbort, DemoError } from './net';
import { DEMO_DEFAULTS, settingsOf, type DemoOptions } from './settings';
import { printShutdown, shutDown, type ShutdownReport } from './shutdown';
import { observeUntilReady, startEngineProcesses, startFleetEmulator, startInfrastructure } from './startup';
import { formatSummary, summarize, summarizePause, verdict } from './summary';
import { finishDecidedActions, runTrafficPhases } from './traffic';

export { DEMO_DEFAULTS, type DemoOptions } from './settings';

/** How the run ended before the summary: the exit code so far, and the failure to print (null: none). */
interface Ending {
  exitCode: number;
  failure: string | null;
}

/**
 * `dynamite demo`: the real engine (a scheduler and two workers, as separate processes) scaling a small web
 * service that runs under the fleet emulator, driven by generated traffic. Returns the exit code: 0 when load
 * scaled the service up and back down, 1 when it did not (or something failed), 130 when interrupted.
 */
export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const run = newDemoRun(settingsOf(opts));
  const removeSignalHandlers = handleSignals(run);
  let ending: Ending;
  try {
    await startAndRun(run);
    // Without --keep, Ctrl-C interrupted the run; with it, Ctrl-C is how the run ends.
    ending = { exitCode: run.interrupted && !run.settings.keep ? 130 : 1, failure: null };
  } catch (err) {
    ending = endingOf(err, run.abort.signal);
  }
  const stopped = await shutDown(run);
  removeSignalHandlers();
  printShutdown(run, stopped);
  return report(run, ending, stopped);
}

/** Infrastructure, emulator, engine, then the traffic phases watched as they go. */
async function startAndRun(run: DemoRun): Promise<void> {
  say(run, `dynamite demo: the engine scales a small web service under generated load (run ${run.runId})`);
  const { credentials, rendered, basePort } = await startInfrastructure(run);
  const { fleetPort } = await startFleetEmulator(run);
  const listener = await startEngineProcesses(run, { fleetPort, rendered, basePort, credentials });
  const observer = await observeUntilReady(run, rendered);
  await runTrafficPhases(run, rendered, observer, listener);
  await finishDecidedActions(run, observer);
}

function endingOf(err: unknown, signal: AbortSignal): Ending {
  if (err instanceof DemoAbort || (signal.aborted && !(err instanceof DemoError))) return { exitCode: 130, failure: null };
  if (err instanceof DemoError) return { exitCode: err.exitCode, failure: err.message };
  return { exitCode: 1, failure: `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` };
}

/**
 * Prints the summary (when the traffic started) and the verdict, which decides the exit code of a run that
 * neither failed nor was interrupted; removes the run dir unless it is worth keeping. Returns the exit code.
 */
function report(run: DemoRun, ending: Ending, stopped: ShutdownReport): number {
  const { out } = run.settings;
  let { exitCode } = ending;
  const { failure } = ending;
  const { observer, rendered } = run;
  if (observer && run.trafficStarted > 0 && rendered) {
    const decisions = [...observer.decisions.values()];
    const summary = summarize(decisions.map((d) => d.record));
    const pauses = observer.pauses.map((p) => summarizePause(decisions, p));
    const load = stopped.load;
    const lines = formatSummary(summary, {
      totalS: (Date.now() - run.t0) / 1000,
      startupS: run.startupS,
      trafficS: run.trafficS,
      instancesAtStart: run.instancesAtStart,
      instancesPeak: observer.maxLaunched,
      instancesAtEnd: stopped.instancesAtEnd,
      minInstance: rendered.service.minInstance,
      maxInstance: rendered.service.maxInstance,
      requests: { ok: load?.ok ?? 0, rejected: load?.rejected ?? 0, failed: load?.failed ?? 0, dropped: load?.dropped ?? 0 },
      peakRate: DEMO_DEFAULTS.peakRate,
      pauses,
      t0: run.t0,
    });
    out.write(`${lines.join('\n')}\n`);
    if (failure === null && exitCode !== 130) {
      const v = verdict(summary, pauses);
      out.write(`result: ${v.message}\n`);
      exitCode = v.ok ? 0 : 1;
    }
  }
  if (failure !== null) out.write(`dynamite demo failed: ${failure}\n`);
  if (exitCode === 130) out.write('interrupted\n');
  const keepDir = run.settings.keepLogs || (stopped.startedAny && exitCode !== 0 && exitCode !== 130);
  if (keepDir) out.write(`run dir (config, units, logs): ${run.runDir}\n`);
  else fs.rmSync(run.runDir, { recursive: true, force: true });
  return exitCode;
}
