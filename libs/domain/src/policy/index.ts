export { describeRule } from './decision-record';
export type { DecisionOutcome, SuppressReason, DecisionRecord, RecordedAction } from './decision-record';
export { INITIAL_MACHINE_STATE, FUTURE_TOLERANCE_MS, stepMachine, isBreaching } from './machine';
export type {
  ArmedTimer,
  MachineState,
  Sample,
  MachineEvent,
  MachineContext,
  MachineEffect,
  FireEffect,
  MachineStep,
  IgnoredSample,
} from './machine';
export { isCooldownActive, cooldownEndAfter } from './cooldown';
export { decideScaling, countsOf, instancesNeededForMin, scaleDownTargetFor } from './decide';
export type {
  RecordedInstance,
  ScaleTarget,
  ScaleRequest,
  ScaleDecision,
  ScaleSuppressReason,
  InstanceCounts,
} from './decide';
export { decideAction } from './action-decision';
export type { ActionDecision, ActionContext, ScaleAction } from './action-decision';
export {
  NO_CONTROLS, PAUSE_REASON_MAX, PAUSE_FOR_MAX_MS, pauseApplies, pauseExpired, isDryRun, pausedWhat, describePause, reasonProblem, buildPause,
} from './controls';
export type { ScaleDirection, ServicePause, InstanceProtection, ServiceControls } from './controls';
export { formatDuration, parseDuration } from './durations';
export { fireDecisionRecord, boundRepairRecord } from './fire-record';
