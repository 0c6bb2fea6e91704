import { failIfAChildDied, pause, say, type DemoRun } from './demo-run';
import { DemoOperator } from './demo-operator';
import { listenerLines, type OperatorListener } from './listener';
import { statusBlock, statusLine, type ViewInput } from './live-view';
import { LoadGenerator } from './load-generator';
import type { Observer } from './observer';
import { buildPhases, gateOf, phaseAt, phaseLabel, PhaseClock, type Phase, type PhaseGate } from './phases';
import { ATTACHED, type RenderedDemo } from './render';
import { DEMO_DEFAULTS } from './settings';
import { summarize, summarizePause } from './summary';

/** Why the demo's operator pauses scaling up: shown in every decision the pause suppresses. */
export const PAUSE_REASON = 'demo: hold scale-up while the load rises';
/** How long the peak is held, at most, for a window to be recorded paused before the demo resumes anyway. */
const MAX_PAUSED_HOLD_MS = 60_000;

function describePhases(phases: Phase[]): string {
  return phases.map((p) => `${phaseLabel(p)} ${(p.endS - p.startS).toFixed(0)} s`).join(', ');
}

/** What the end of a phase waits for, as the live view says it. */
function waitingFor(gate: PhaseGate): string {
  return gate === 'paused' ? 'the pause to be in place' : 'a window recorded paused, then the resume';
}

/** The line that announces a phase: its rate, length and what the operator does in it. */
function phaseAnnouncement(phases: Phase[], index: number): string {
  const p = phases[index]!;
  const rate = p.fromRate === p.toRate ? `${p.fromRate} req/s` : `${p.fromRate} -> ${p.toRate} req/s`;
  const gate = gateOf(phases, index);
  const note = gate === 'paused'
    ? '; the operator pauses scaling up before the load rises'
    : gate === 'resumed'
      ? '; resumed once a scale-up window is recorded suppressed: paused'
      : '';
  return `--- phase ${index + 1}/${phases.length}: ${phaseLabel(p)}, ${rate} for ${(p.endS - p.startS).toFixed(0)} s${note} ---`;
}

/** Scale-up windows recorded `suppressed: paused` since the pause set now (0 when none is set). */
function heldWindows(observer: Observer): number {
  const current = observer.pause;
  return current === null ? 0 : summarizePause([...observer.decisions.values()], { ...current, endedAt: null }).heldWindows;
}

/**
 * Sends the traffic of the phases while showing the live view: redrawn in place on a terminal, a status line every
 * 5 s otherwise. The demo's operator pauses scaling up before the load rises and resumes once a window was recorded
 * paused; the phases wait for both (events, not sleeps). With --keep it goes on, quietly, until Ctrl-C.
 */
export async function runTrafficPhases(run: DemoRun, rendered: RenderedDemo, observer: Observer, listener: OperatorListener): Promise<void> {
  const { durationS, keep, tty } = run.settings;
  const { config, service, scaleUp, scaleDown } = rendered;
  const registrationPrefix = `${config.etcd.applicationBasePath}/${scaleUp.serviceType}/`;
  const phases = buildPhases(durationS, { quietRate: DEMO_DEFAULTS.quietRate, peakRate: DEMO_DEFAULTS.peakRate });
  const operator = new DemoOperator(run, service.name, listener);
  const clock = new PhaseClock(phases, (gate) => (gate === 'paused' ? operator.paused : operator.state === 'resumed'));
  say(run, `traffic for ${durationS} s: ${describePhases(phases)} (${DEMO_DEFAULTS.quietRate} -> ${DEMO_DEFAULTS.peakRate} req/s; one instance serves ~${Math.floor(1000 / (DEMO_DEFAULTS.costMs + 1))} req/s)`);
  run.trafficStarted = performance.now();
  const elapsedS = () => (performance.now() - run.trafficStarted) / 1000;
  const now = () => phaseAt(phases, clock.at(elapsedS()));
  const load = new LoadGenerator(run.etcd!, registrationPrefix, () => now().rate);
  run.load = load;
  await load.start();

  const view = (): ViewInput => {
    const phase = now();
    const waiting = clock.waitingAt === null ? null : gateOf(phases, clock.waitingAt);
    return {
      now: Date.now(),
      t0: run.t0,
      phase,
      phaseCount: phases.length,
      load: load.snapshot(),
      listener,
      waitingFor: waiting === null ? null : waitingFor(waiting),
      service,
      attached: [ATTACHED],
      policies: [scaleUp, scaleDown],
      observer,
      keep,
    };
  };
  let lastPhase = -1;
  let lastLine = 0;
  let lines = 0;
  let keepAnnounced = false;
  let holdingSince: number | null = null;
  for (;;) {
    failIfAChildDied(run);
    operator.throwIfFailed();
    const v = view();
    if (!v.phase.done && v.phase.index !== lastPhase) {
      lastPhase = v.phase.index;
      say(run, `+${((v.now - run.t0) / 1000).toFixed(1)}s  ${phaseAnnouncement(phases, v.phase.index)}`);
      if (gateOf(phases, v.phase.index) === 'paused') operator.pauseUp(PAUSE_REASON);
    }
    // At the end of the paused peak: resume once a window was recorded paused (or, should none come, after a while).
    if (clock.waitingAt !== null && gateOf(phases, clock.waitingAt) === 'resumed' && operator.state === 'paused') {
      holdingSince ??= v.now;
      const held = heldWindows(observer);
      if (held > 0) operator.resume(`${held} scale-up window${held === 1 ? '' : 's'} recorded suppressed: paused`);
      else if (v.now - holdingSince > MAX_PAUSED_HOLD_MS) {
        operator.resume(`no window recorded paused in ${MAX_PAUSED_HOLD_MS / 1000} s more of peak`);
      }
    }
    if (v.phase.done) {
      if (!keep) break;
      if (!keepAnnounced) {
        keepAnnounced = true;
        run.trafficS = elapsedS();
        say(run, `traffic phases done after ${run.trafficS.toFixed(0)} s; --keep: everything stays up with quiet traffic until Ctrl-C`, ...listenerLines(listener));
      }
    }
    if (tty) run.screen.draw(statusBlock(v));
    else if (v.now - lastLine >= 5000) {
      lastLine = v.now;
      lines += 1;
      say(run, statusLine(v));
      if (lines % 6 === 0) say(run, ...listenerLines(listener));
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
