import { failIfAChildDied, pause, say, type DemoRun } from './demo-run';
import { statusBlock, statusLine, type ViewInput } from './live-view';
import { LoadGenerator } from './load-generator';
import type { Observer } from './observer';
import { buildPhases, phaseAt, type Phase } from './phases';
import { ATTACHED, type RenderedDemo } from './render';
import { DEMO_DEFAULTS } from './settings';
import { summarize } from './summary';

function describePhases(phases: Phase[]): string {
  return phases.map((p) => `${p.name} ${(p.endS - p.startS).toFixed(0)} s`).join(', ');
}

/**
 * Sends the traffic of the phases (quiet, ramp up, peak, ramp down, quiet) while showing the live view: redrawn
 * in place on a terminal, a status line every 5 s otherwise. With --keep it goes on, quietly, until Ctrl-C.
 */
export async function runTrafficPhases(run: DemoRun, rendered: RenderedDemo, observer: Observer, boardUrl: string | null): Promise<void> {
  const { durationS, keep, tty } = run.settings;
  const { config, service, scaleUp, scaleDown } = rendered;
  const registrationPrefix = `${config.etcd.applicationBasePath}/${scaleUp.serviceType}/`;
  const phases = buildPhases(durationS, { quietRate: DEMO_DEFAULTS.quietRate, peakRate: DEMO_DEFAULTS.peakRate });
  say(run, `traffic for ${durationS} s: ${describePhases(phases)} (${DEMO_DEFAULTS.quietRate} -> ${DEMO_DEFAULTS.peakRate} req/s; one instance serves ~${Math.floor(1000 / (DEMO_DEFAULTS.costMs + 1))} req/s)`);
  run.trafficStarted = performance.now();
  const elapsedS = () => (performance.now() - run.trafficStarted) / 1000;
  const load = new LoadGenerator(run.etcd!, registrationPrefix, () => phaseAt(phases, elapsedS()).rate);
  run.load = load;
  await load.start();

  const view = (): ViewInput => ({
    now: Date.now(),
    t0: run.t0,
    phase: phaseAt(phases, elapsedS()),
    phaseCount: phases.length,
    load: load.snapshot(),
    boardUrl,
    service,
    attached: [ATTACHED],
    policies: [scaleUp, scaleDown],
    observer,
    keep,
  });
  let lastPhase = -1;
  let lastLine = 0;
  let lines = 0;
  let keepAnnounced = false;
  for (;;) {
    failIfAChildDied(run);
    const v = view();
    if (!v.phase.done && v.phase.index !== lastPhase) {
      lastPhase = v.phase.index;
      const p = v.phase.phase!;
      say(run, `+${((v.now - run.t0) / 1000).toFixed(1)}s  --- phase ${v.phase.index + 1}/${phases.length}: ${p.name}, ` +
        `${p.fromRate === p.toRate ? `${p.fromRate} req/s` : `${p.fromRate} -> ${p.toRate} req/s`} for ${(p.endS - p.startS).toFixed(0)} s ---`);
    }
    if (v.phase.done) {
      if (!keep) break;
      if (!keepAnnounced) {
        keepAnnounced = true;
        run.trafficS = elapsedS();
        say(run, `traffic phases done after ${run.trafficS.toFixed(0)} s; --keep: everything stays up with quiet traffic until Ctrl-C` +
          (boardUrl ? ` (board: ${boardUrl})` : ''));
      }
    }
    if (tty) run.screen.draw(statusBlock(v));
    else if (v.now - lastLine >= 5000) {
      lastLine = v.now;
      lines += 1;
      say(run, statusLine(v));
      if (boardUrl && lines % 6 === 0) say(run, `         Bull Board: ${boardUrl}`);
    }
    if (run.abort.signal.aborted) break;
    await pause(tty ? 250 : 500, run.abort.signal);
  }
  if (!keepAnnounced) run.trafficS = elapsedS();
}

/** A decision taken just before the end gets its action finished (a few seconds at most). */
export async function finishDecidedActions(run: DemoRun, observer: Observer): Promise<void> {
  const deadline = Date.now() + 15_000;
  let told = false;
  while (!run.abort.signal.aborted && Date.now() < deadline) {
    const pending = summarize([...observer.decisions.values()].map((d) => d.record)).events.filter((e) => e.doneAt === null && e.failed === null);
    if (pending.length === 0) break;
    if (!told) say(run, `waiting for ${pending.length} decided action(s) to finish...`);
    told = true;
    failIfAChildDied(run);
    await pause(500, run.abort.signal);
  }
}
