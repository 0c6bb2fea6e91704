/**
 * The demo (`dynamite demo`): the real engine scaling a small web service under generated load, on one machine.
 * See docs/demo.md.
 */
export { runDemo, DEMO_DEFAULTS, type DemoOptions } from './run-demo';
export { DemoError } from './net';
export { buildPhases, phaseAt, type Phase } from './phases';
export { summarize, formatSummary, verdict, type DemoSummary, type ScalingEvent } from './summary';
export { parseInstanceTarget } from './targets';
export { renderDemo, quoteArg } from './render';
export { freePortRange } from './net';
