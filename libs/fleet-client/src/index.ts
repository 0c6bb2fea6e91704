export { FleetClient, DEFAULT_REQUEST_TIMEOUT_MS, type FleetClientOptions, type FleetClientLogger } from './fleet-client';
export { parseFleetEndpoint, type FleetEndpoint } from './endpoint';
export {
  FleetApiError,
  FleetArgumentError,
  FleetNetworkError,
  FleetTimeoutError,
  isRetryableFleetError,
  isRetryableStatus,
  type FleetError,
  type FleetNetworkErrorKind,
} from './errors';
export { DEFAULT_RETRY_POLICY, backoffDelayMs, resolveRetryPolicy, withRetry, type RetryPolicy, type RetryHooks } from './retry';
export {
  JOB_STATES,
  isJobState,
  type DestroyResult,
  type FleetDiscoveryDocument,
  type FleetMachine,
  type FleetUnit,
  type FleetUnitState,
  type JobState,
  type MachineMetadataOp,
  type PutUnitBody,
  type PutUnitResult,
  type UnitStateFilter,
} from './types';
export {
  isIdenticalUnitConflict,
  type EnsureLaunchedAction,
  type EnsureLaunchedResult,
  type LaunchAction,
  type SubmitAction,
} from './unit-lifecycle';
export { DEFAULT_POLL_MS, DEFAULT_WAIT_MS, type WaitForStateOptions, type WaitOptions } from './wait';
export { instanceNameOf, type InstantiateResult } from './template-instances';
