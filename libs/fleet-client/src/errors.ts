/**
 * The errors the fleet client throws. Each says what the caller can do about it: `retryable` is true when the
 * same call may succeed later (fleet not ready, a 5xx, a network failure, a slow convergence).
 */

/** A call the client refuses before sending anything: a bad endpoint, state, template name or retry policy. */
export class FleetArgumentError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'FleetArgumentError';
  }
}

/**
 * fleet answered with an error status (or with a body the client cannot use). `code` and `fleetMessage` are
 * fleet's own `{"error":{"code","message"}}`; `message` is the whole story, e.g.
 * `PUT /fleet/v1/units/web%408080.service: 409 unit does not exist and options field empty`.
 */
export class FleetApiError extends Error {
  readonly status: number;
  readonly code: number;
  readonly fleetMessage: string;
  readonly method: string;
  readonly path: string;
  readonly retryable: boolean;
  /** How many attempts were made before giving up (set by the retry loop). */
  attempts = 1;

  constructor(args: { status: number; code?: number; fleetMessage: string; method: string; path: string; retryable?: boolean }) {
    super(`${args.method} ${args.path}: ${args.status} ${args.fleetMessage === '' ? '(no message)' : args.fleetMessage}`);
    this.name = 'FleetApiError';
    this.status = args.status;
    this.code = args.code ?? args.status;
    this.fleetMessage = args.fleetMessage;
    this.method = args.method;
    this.path = args.path;
    this.retryable = args.retryable ?? isRetryableStatus(args.status);
  }
}

/** fleet's 503 "unable to communicate with etcd" and every 5xx may pass; other statuses are final. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500;
}

export type FleetNetworkErrorKind = 'timeout' | 'refused' | 'reset' | 'unreachable' | 'other';

/** No usable HTTP answer: timed out, refused, reset or dropped. Always worth retrying. */
export class FleetNetworkError extends Error {
  readonly kind: FleetNetworkErrorKind;
  readonly method: string;
  readonly path: string;
  readonly retryable = true;
  attempts = 1;

  constructor(args: { kind: FleetNetworkErrorKind; method: string; path: string; detail: string; cause?: unknown }) {
    super(`${args.method} ${args.path}: ${args.detail}`, { cause: args.cause });
    this.name = 'FleetNetworkError';
    this.kind = args.kind;
    this.method = args.method;
    this.path = args.path;
  }
}

/** A bounded wait for units to converge gave up. `lastSeen` describes what the last poll observed. */
export class FleetTimeoutError extends Error {
  readonly units: string[];
  readonly waitedMs: number;
  readonly lastSeen: string;
  readonly retryable = true;

  constructor(args: { units: string[]; expected: string; waitedMs: number; lastSeen: string }) {
    super(`${args.units.join(', ')} did not reach ${args.expected} within ${args.waitedMs} ms (last seen: ${args.lastSeen})`);
    this.name = 'FleetTimeoutError';
    this.units = args.units;
    this.waitedMs = args.waitedMs;
    this.lastSeen = args.lastSeen;
  }
}

export type FleetError = FleetArgumentError | FleetApiError | FleetNetworkError | FleetTimeoutError;

/** True for errors of this client that a later attempt may not repeat; false for anything else. */
export function isRetryableFleetError(err: unknown): boolean {
  return (
    (err instanceof FleetApiError || err instanceof FleetNetworkError || err instanceof FleetTimeoutError) && err.retryable
  );
}
