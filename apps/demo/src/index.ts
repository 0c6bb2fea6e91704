/**
 * The demo (`dynamite demo`): the real engine scaling a small web service under generated load, on one machine.
 * See docs/demo.md.
 */
export { runDemo, DEMO_DEFAULTS, type DemoOptions } from './run-demo';
export { DemoError } from './net';
export { buildPhases, phaseAt, gateOf, phaseLabel, PhaseClock, type Phase, type PhaseGate } from './phases';
export { summarize, summarizePause, pauseSummaryLine, formatSummary, verdict, type DemoSummary, type ScalingEvent, type PauseSummary } from './summary';
export { pauseLine } from './live-view';
export { operatorListener, listenerLines, listenerCredentials } from './listener';
export { parseInstanceTarget } from './targets';
export { renderDemo, quoteArg } from './render';
export { freePortRange } from './net';
