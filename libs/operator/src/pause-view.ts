import type { StateStore } from '@dynamite/store';

/**
 * Whether a service is paused, as `/api/services` (`paused` of each service), its timeline and the `/ui` page show
 * it. The one place that reads it: pause and resume (an etcd key per service and `POST /api/services/:name/pause`)
 * come with another change; until it is merged nothing records a pause, so this answers null ("no pause recorded")
 * and the page shows no badge. Wiring it is reading that key here and returning its view.
 */
export interface PauseView {
  paused: boolean;
  /** ISO time the pause began, when known. */
  since: string | null;
  /** Why, as the operator gave it, when known. */
  reason: string | null;
}

export async function readPauseView(_store: StateStore, _service: string): Promise<PauseView | null> {
  return null;
}
