import type { UnitOption } from '@dynamite/unit-files';
import { parseFleetEndpoint, type FleetEndpoint } from './endpoint';
import { FleetApiError, FleetArgumentError, FleetNetworkError, isRetryableFleetError } from './errors';
import { resolveRetryPolicy, withRetry, type RetryPolicy } from './retry';
import { instantiate, type InstantiateResult } from './template-instances';
import { FleetTransport, type FleetRequest, type FleetResponse } from './transport';
import {
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
import {
  ensureDestroyed,
  ensureLaunched,
  ensureSubmitted,
  submit,
  submitAndLaunch,
  launch,
  type EnsureLaunchedResult,
  type LaunchAction,
  type SubmitAction,
} from './unit-lifecycle';
import { waitForState, waitUntilLaunched, type WaitForStateOptions, type WaitOptions } from './wait';
import {
  decodeMachine,
  decodePage,
  decodeUnit,
  decodeUnitState,
  encodeMetadataOp,
  encodePutUnitBody,
} from './wire';

/** Structured logging in pino's `(fields, message)` shape; every method is optional. */
export interface FleetClientLogger {
  debug?(fields: Record<string, unknown>, message: string): void;
  warn?(fields: Record<string, unknown>, message: string): void;
}

export interface FleetClientOptions {
  /** `127.0.0.1:49153`, `http://host:port`, `https://host:port/fleet/v1`, `unix:///var/run/fleet.sock`. */
  endpoint: string;
  /** Per request, including reading the body. Default 5000 ms. */
  timeoutMs?: number;
  /** Merged over DEFAULT_RETRY_POLICY; `{ attempts: 1 }` disables retries. */
  retry?: Partial<RetryPolicy>;
  logger?: FleetClientLogger;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

interface CallTuning {
  attempts?: number;
  isRetryable?: (err: unknown) => boolean;
}

/**
 * fleet's HTTP API v1 (spec fleet-api-v1.md), typed: one method per endpoint, plus idempotent helpers that the
 * engine composes (ensureLaunched, ensureDestroyed, instantiate, waits). Every request has a timeout and is
 * retried on network errors and 5xx (fleet's PUT and DELETE are idempotent in effect); other 4xx are final.
 */
export class FleetClient {
  readonly endpoint: FleetEndpoint;
  readonly timeoutMs: number;
  readonly retryPolicy: RetryPolicy;
  private readonly transport: FleetTransport;
  private readonly logger: FleetClientLogger;

  constructor(options: FleetClientOptions) {
    this.endpoint = parseFleetEndpoint(options.endpoint);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new FleetArgumentError(`invalid fleet request timeout ${options.timeoutMs}: it must be a positive number of ms`);
    }
    this.retryPolicy = resolveRetryPolicy(options.retry);
    this.logger = options.logger ?? {};
    this.transport = new FleetTransport(this.endpoint);
  }

  // ---- units -------------------------------------------------------------------------------------------

  /** Every unit (templates, global and inactive ones included), sorted by name; follows every page. */
  async listUnits(): Promise<FleetUnit[]> {
    return (await this.listAll('units', 'units', {})).map(decodeUnit);
  }

  /** The unit, or null when fleet answers 404. */
  async getUnit(name: string): Promise<FleetUnit | null> {
    try {
      return await this.requireUnit(name);
    } catch (err) {
      if (err instanceof FleetApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** The unit; a 404 throws FleetApiError (`unit does not exist`). */
  async requireUnit(name: string): Promise<FleetUnit> {
    const response = await this.call({ method: 'GET', path: unitPath(name) });
    return decodeUnit(response.body);
  }

  /**
   * Creates, replaces or sets the desired state of a unit (spec §3.4). 201 -> `created` (created or replaced),
   * 204 -> `updated` (desired state set, options identical or absent).
   */
  async putUnit(name: string, body: PutUnitBody): Promise<PutUnitResult> {
    if (body.desiredState !== undefined) assertJobState(body.desiredState);
    if (body.options !== undefined && !Array.isArray(body.options)) {
      throw new FleetArgumentError(`options for ${name} must be an array of { section, name, value }`);
    }
    const response = await this.call({ method: 'PUT', path: unitPath(name), body: encodePutUnitBody(name, body) });
    return { status: response.status === 201 ? 'created' : 'updated' };
  }

  /** `PUT {"desiredState": state}`; an invalid state is refused before sending (fleet would corrupt the unit, #1356). */
  async setDesiredState(name: string, state: JobState): Promise<PutUnitResult> {
    assertJobState(state);
    return this.putUnit(name, { desiredState: state });
  }

  /** DELETE; 204 -> `destroyed`, 404 -> `absent`. fleet stops the process afterwards, asynchronously. */
  async destroyUnit(name: string): Promise<DestroyResult> {
    try {
      await this.call({ method: 'DELETE', path: unitPath(name) });
      return 'destroyed';
    } catch (err) {
      if (err instanceof FleetApiError && err.status === 404) return 'absent';
      throw err;
    }
  }

  // ---- unit states ---------------------------------------------------------------------------------------

  /** `/state` entries, sorted by (name, machineID); the filters are sent with every page. */
  async listUnitStates(filter: UnitStateFilter = {}): Promise<FleetUnitState[]> {
    const query = { machineID: filter.machineID ?? '', unitName: filter.unitName ?? '' };
    return (await this.listAll('state', 'states', query)).map(decodeUnitState);
  }

  /**
   * One `/state` entry for the unit, or null when there is none: the emulator answers 404, real fleet v1.0.0
   * panics and drops the connection (spec §3.7). A drop is retried once, in case it was a stale keep-alive socket.
   */
  async getUnitState(name: string): Promise<FleetUnitState | null> {
    let drops = 0;
    const isDrop = (err: unknown) => err instanceof FleetNetworkError && err.kind === 'reset';
    try {
      const response = await this.call(
        { method: 'GET', path: `state/${encodeName(name)}` },
        { isRetryable: (err) => (isDrop(err) ? ++drops < 2 : isRetryableFleetError(err)) },
      );
      return decodeUnitState(response.body);
    } catch (err) {
      if (err instanceof FleetApiError && err.status === 404) return null;
      if (isDrop(err)) return null;
      throw err;
    }
  }

  // ---- machines ------------------------------------------------------------------------------------------

  /** Live machines, sorted by id, with merged metadata. */
  async listMachines(): Promise<FleetMachine[]> {
    return (await this.listAll('machines', 'machines', {})).map(decodeMachine);
  }

  /** `PATCH /machines`: fleet validates every operation before applying any. */
  async patchMachineMetadata(ops: MachineMetadataOp[]): Promise<void> {
    for (const op of ops) {
      if (!['add', 'remove', 'replace'].includes(op.op)) {
        throw new FleetArgumentError(`invalid machine metadata op ${JSON.stringify(op.op)}: expected add, remove or replace`);
      }
    }
    await this.call({ method: 'PATCH', path: 'machines', body: ops.map(encodeMetadataOp) });
  }

  // ---- discovery and health ------------------------------------------------------------------------------

  /** The discovery document, with fleet's `$ENDPOINT` placeholders replaced by this client's endpoint. */
  async discovery(): Promise<FleetDiscoveryDocument> {
    const response = await this.call({ method: 'GET', path: 'discovery' });
    const doc = { ...(response.body as Record<string, unknown>) };
    for (const key of ['rootUrl', 'baseUrl']) {
      if (typeof doc[key] === 'string') doc[key] = (doc[key] as string).replace('$ENDPOINT', this.endpoint.url);
    }
    return doc as FleetDiscoveryDocument;
  }

  /** One `GET /machines`, no retries: the original's connectivity test, for readiness probes. Throws when fleet is not usable. */
  async ping(): Promise<void> {
    await this.call({ method: 'GET', path: 'machines' }, { attempts: 1 });
  }

  // ---- idempotent helpers (see unit-lifecycle.ts, wait.ts, templates.ts) ---------------------------------

  ensureSubmitted(name: string, options: UnitOption[]): Promise<SubmitAction> {
    return ensureSubmitted(this, name, options);
  }

  submit(name: string, options: UnitOption[]): Promise<SubmitAction> {
    return submit(this, name, options);
  }

  submitAndLaunch(name: string, options: UnitOption[]): Promise<'created' | 'unchanged'> {
    return submitAndLaunch(this, name, options);
  }

  launch(name: string): Promise<LaunchAction> {
    return launch(this, name);
  }

  ensureLaunched(name: string, options: UnitOption[], wait: WaitOptions = {}): Promise<EnsureLaunchedResult> {
    return ensureLaunched(this, name, options, wait);
  }

  ensureDestroyed(name: string, wait: WaitOptions = {}): Promise<DestroyResult> {
    return ensureDestroyed(this, name, wait);
  }

  waitForState(name: string, state: JobState, wait: WaitForStateOptions = {}): Promise<FleetUnit> {
    return waitForState(this, name, state, wait);
  }

  waitUntilLaunched(names: string[], wait: WaitOptions = {}): Promise<FleetUnit[]> {
    return waitUntilLaunched(this, names, wait);
  }

  instantiate(templateName: string, instance: string | number): Promise<InstantiateResult> {
    return instantiate(this, templateName, instance);
  }

  /** Closes idle keep-alive connections; the client stays usable (new connections are opened on demand). */
  close(): void {
    this.transport.close();
  }

  // ---- plumbing -------------------------------------------------------------------------------------------

  private async call(request: FleetRequest, tuning: CallTuning = {}): Promise<FleetResponse> {
    const policy = tuning.attempts === undefined ? this.retryPolicy : { ...this.retryPolicy, attempts: tuning.attempts };
    return withRetry(policy, async (remainingMs) => {
      const response = await this.transport.send(request, Math.min(this.timeoutMs, remainingMs));
      this.logger.debug?.({ method: request.method, path: this.transport.displayPath(request.path), status: response.status }, 'fleet request');
      return response;
    }, {
      isRetryable: tuning.isRetryable,
      onRetry: (err, retry, delayMs) =>
        this.logger.warn?.({ err: err instanceof Error ? err.message : String(err), retry, delayMs }, 'fleet request failed; retrying'),
    });
  }

  /** Follows `nextPageToken` until fleet stops sending one; each page is retried on its own. */
  private async listAll(resource: string, key: 'units' | 'states' | 'machines', filters: Record<string, string>): Promise<unknown[]> {
    const items: unknown[] = [];
    const seenTokens = new Set<string>();
    let token = '';
    for (;;) {
      const query = Object.entries({ ...filters, nextPageToken: token })
        .filter(([, value]) => value !== '')
        .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
        .join('&');
      const path = query === '' ? resource : `${resource}?${query}`;
      const page = decodePage((await this.call({ method: 'GET', path })).body, key);
      items.push(...page.items);
      if (page.nextPageToken === '') return items;
      if (seenTokens.has(page.nextPageToken)) {
        // A server that hands out the same token twice would keep us here forever.
        throw new FleetApiError({ status: 200, fleetMessage: `pagination does not advance: token ${page.nextPageToken} repeated`, method: 'GET', path: this.transport.displayPath(path), retryable: false });
      }
      seenTokens.add(page.nextPageToken);
      token = page.nextPageToken;
    }
  }
}

function encodeName(name: string): string {
  if (typeof name !== 'string' || name === '') throw new FleetArgumentError('a unit name is required');
  return encodeURIComponent(name);
}

function unitPath(name: string): string {
  return `units/${encodeName(name)}`;
}

function assertJobState(state: unknown): asserts state is JobState {
  if (!isJobState(state)) {
    throw new FleetArgumentError(`invalid desired state ${JSON.stringify(state)}: expected one of ${JOB_STATES.join(', ')}`);
  }
}
