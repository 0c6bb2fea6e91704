export { parseIsoTimestamp } from './timestamp';
export { parseSampleKey } from './sample-key';
export type { SampleKey, SampleKeyError, SampleKeyResult } from './sample-key';
export { parseSampleValue, parseNumberText, SAMPLE_VALUE_MAX_LENGTH, SAMPLE_VALUE_MAX_DEPTH } from './sample-value';
export type { SampleValueError, SampleValueResult } from './sample-value';
export { routeSample, machineSamplePrefix, metricWatchPrefixes, isUnderPrefixes } from './routing';
export type { Route } from './routing';
export { parseRegistrationKey, registrationKey, registrationsPrefix, normalizeInstanceName, REGISTRATION_LEAF } from './registration';
export { trimTrailingSlashes } from './paths';
