export { describeRule } from './decision-record';
export type { DecisionOutcome, SuppressReason, DecisionRecord } from './decision-record';
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
export { fireDecisionRecord, boundRepairRecord } from './fire-record';
