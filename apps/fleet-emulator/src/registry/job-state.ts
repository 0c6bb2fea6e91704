/** fleet's three cluster-level states (spec §5.1). */
export type JobState = 'inactive' | 'loaded' | 'launched';

export const JOB_STATES: readonly JobState[] = ['inactive', 'loaded', 'launched'];

export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}
