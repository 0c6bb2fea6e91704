import type { StateStore } from '@dynamite/store';

/**
 * Whether a service's scaling is paused, as `/api/services` (`paused` of each service), its timeline and the `/ui`
 * page show it: the one place that reads it. Pause and resume (an etcd key per service, `POST
 * /api/services/:name/pause`) come with another change, whose view has this shape; until it is merged nothing
 * records a pause and this answers null (no pause). Merging it means reading its key here, or taking its view instead.
 */
export interface PauseView {
  directions: ('up' | 'down')[];
  reason: string;
  since: string | null;
  /** When it stops applying, or null: until resumed. */
  until: string | null;
  remainingMs: number | null;
  by: string | null;
  /** False once `until` has passed. */
  active: boolean;
}

export async function readPauseView(_store: StateStore, _service: string): Promise<PauseView | null> {
  return null;
}
