import type http from 'node:http';
import { goQuote, unitHash, unitNameInfo, validateUnitName, validateUnitOptions, normalizeUnitOptions, type UnitOption } from '@dynamite/unit-files';
import type { Cluster } from '../cluster';
import { isJobState, type JobState } from '../registry/job-state';
import { DISCOVERY_JSON } from './discovery-document';
import { decodeFirstValue, GoJsonError, unmarshal } from './go-json';
import { pageOf, PageTokenError, pageTokenFromQuery, type PageToken } from './page-token';
import { METADATA_OPS_TYPE, UNIT_TYPE, type DecodedMetadataOp, type DecodedUnit } from './request-types';
import { sendCreated, sendError, sendJson, sendNoContent, sendRawJson } from './responses';

export interface FleetRequest {
  method: string;
  /** Percent-decoded path. */
  path: string;
  query: Map<string, string[]>;
  rawHeaders: string[];
  body: Buffer;
}

export const PREFIXES = ['/fleet/v1', '/v1-alpha'] as const;

/** The route pattern of a path (for stats), and the unit it names, following fleet's ServeMux table §1.1. */
export function routeOf(path: string): { route: string; unit: string | null } {
  if (path === '/') return { route: '/', unit: null };
  for (const prefix of PREFIXES) {
    if (path === prefix) return { route: prefix, unit: null };
    if (!path.startsWith(`${prefix}/`)) continue;
    const rest = path.slice(prefix.length);
    for (const resource of ['units', 'state'] as const) {
      if (rest === `/${resource}`) return { route: `${prefix}/${resource}`, unit: null };
      if (rest.startsWith(`/${resource}/`)) {
        const item = rest.slice(resource.length + 2);
        if (item !== '' && !item.includes('/')) return { route: `${prefix}/${resource}/{name}`, unit: item };
        return { route: `${prefix}/${resource}/*`, unit: null };
      }
    }
    if (rest === '/machines' || rest === '/discovery') return { route: `${prefix}${rest}`, unit: null };
  }
  return { route: '*', unit: null };
}

export class FleetApi {
  constructor(private readonly cluster: Cluster, private readonly tokenLimit: number) {}

  handle(req: FleetRequest, res: http.ServerResponse): void {
    const { path, method } = req;
    if (path === '/') return sendError(res, 405);
    for (const prefix of PREFIXES) {
      if (path === prefix) return sendError(res, 405);
      if (!path.startsWith(`${prefix}/`)) continue;
      const rest = path.slice(prefix.length);
      if (rest === '/discovery') {
        if (method !== 'GET') return sendError(res, 400, 'only HTTP GET supported against this resource');
        return sendRawJson(res, 200, DISCOVERY_JSON);
      }
      if (rest === '/units') {
        if (method !== 'GET') return sendError(res, 405, 'only GET supported against this resource');
        return this.listUnits(req, res);
      }
      if (rest.startsWith('/units/')) {
        const item = rest.slice('/units/'.length);
        if (item === '' || item.includes('/')) return sendError(res, 404);
        switch (method) {
          case 'GET': return this.getUnit(item, res);
          case 'PUT': return this.setUnit(req, item, res);
          case 'DELETE': return this.destroyUnit(item, res);
          default: return sendError(res, 405, 'only GET, PUT and DELETE supported against this resource');
        }
      }
      if (rest === '/state' || rest.startsWith('/state/')) {
        if (method !== 'GET') return sendError(res, 405, 'only GET supported against this resource');
        if (rest === '/state') return this.listStates(req, res);
        const item = rest.slice('/state/'.length);
        if (item === '' || item.includes('/')) return sendError(res, 404);
        return this.getState(item, res);
      }
      if (rest === '/machines') {
        switch (method) {
          case 'GET': return this.listMachines(req, res);
          case 'PATCH': return this.patchMachines(req, res);
          default: return sendError(res, 405, 'only GET and PATCH supported against this resource');
        }
      }
      return sendError(res, 404);
    }
    return sendError(res, 404);
  }

  /** The request's page token, or null after answering 400 with fleet's message. */
  private token(req: FleetRequest, res: http.ServerResponse): PageToken | null {
    try {
      return pageTokenFromQuery(req.query, this.tokenLimit);
    } catch (err) {
      if (err instanceof PageTokenError) { sendError(res, 400, err.message); return null; }
      throw err;
    }
  }

  private listUnits(req: FleetRequest, res: http.ServerResponse): void {
    const token = this.token(req, res);
    if (!token) return;
    const page = pageOf(this.cluster.listUnits(), token);
    sendJson(res, 200, { nextPageToken: page.next ?? undefined, units: page.items.length ? page.items : undefined });
  }

  private getUnit(name: string, res: http.ServerResponse): void {
    const unit = this.cluster.registry.units.get(name);
    if (!unit) return sendError(res, 404, 'unit does not exist');
    sendJson(res, 200, this.cluster.schemaUnit(unit, false));
  }

  private destroyUnit(name: string, res: http.ServerResponse): void {
    if (!this.cluster.registry.units.has(name)) return sendError(res, 404, 'unit does not exist');
    this.cluster.registry.destroy(name);
    sendNoContent(res);
  }

  /** PUT /units/{name}: the decision procedure of spec §3.4, with the deviations Q4 and Q5. */
  private setUnit(req: FleetRequest, item: string, res: http.ServerResponse): void {
    const contentTypes: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i].toLowerCase() === 'content-type') contentTypes.push(req.rawHeaders[i + 1]);
    }
    if (contentTypes.length !== 1) return sendError(res, 415, `expected 1 Content-Type, got ${contentTypes.length}`);
    if (contentTypes[0].split(';', 1)[0].trim() !== 'application/json') return sendError(res, 415, 'only acceptable Content-Type is application/json');

    let decoded: DecodedUnit;
    try {
      const { value, error } = unmarshal(decodeFirstValue(req.body), UNIT_TYPE);
      if (error) return sendError(res, 400, `unable to decode body: ${error}`);
      decoded = (value ?? {}) as DecodedUnit;
    } catch (err) {
      if (err instanceof GoJsonError) return sendError(res, 400, `unable to decode body: ${err.message}`);
      throw err;
    }

    const name = decoded.name ? decoded.name : item;
    if (name !== item) return sendError(res, 400, `name in URL ${goQuote(item)} differs from unit name in request body ${goQuote(name)}`);
    const badName = validateUnitName(name);
    if (badName) return sendError(res, 400, badName);

    const options: UnitOption[] = (decoded.options ?? []).map((o) => ({ section: o?.section ?? '', name: o?.name ?? '', value: o?.value ?? '' }));
    const desired = decoded.desiredState ?? '';
    const existing = this.cluster.registry.units.get(name);

    if (!existing || (options.length > 0 && unitHash(options) !== existing.hash)) {
      if (!existing && options.length === 0) return sendError(res, 409, 'unit does not exist and options field empty');
      // Q5: fleet skips this on the replace path; the emulator validates both.
      const badOptions = validateUnitOptions(name, options);
      if (badOptions) return sendError(res, 400, badOptions);
      const state = desired === '' ? 'inactive' : desired;
      if (!isJobState(state)) return sendError(res, 400, invalidJobState(state));
      this.cluster.putUnit(name, normalizeUnitOptions(options), state);
      return sendCreated(res);
    }

    if (desired === '') return sendError(res, 409, 'must provide DesiredState to update existing unit');
    if (unitNameInfo(name).isTemplate && desired !== 'inactive') return sendError(res, 400, `cannot activate template ${goQuote(name)}`);
    if (!isJobState(desired)) return sendError(res, 400, invalidJobState(desired));
    this.cluster.registry.setDesiredState(name, desired as JobState);
    sendNoContent(res);
  }

  private listStates(req: FleetRequest, res: http.ServerResponse): void {
    const token = this.token(req, res);
    if (!token) return;
    const machineID = req.query.get('machineID')?.[0] ?? '';
    const unitName = req.query.get('unitName')?.[0] ?? '';
    const states = this.cluster.unitStates(unitName === '' ? undefined : unitName).filter((s) => machineID === '' || s.machineID === machineID);
    const page = pageOf(states, token);
    sendJson(res, 200, { nextPageToken: page.next ?? undefined, states: page.items.length ? page.items.map(stateJson) : undefined });
  }

  /** Q3: fleet v1.0.0 panics when there is no state; the emulator answers the 404 the code meant. */
  private getState(name: string, res: http.ServerResponse): void {
    const state = this.cluster.unitStates(name)[0];
    if (!state) return sendError(res, 404, 'unit state does not exist');
    sendJson(res, 200, stateJson(state));
  }

  private listMachines(req: FleetRequest, res: http.ServerResponse): void {
    const token = this.token(req, res);
    if (!token) return;
    const machines = this.cluster.machines.all().map((m) => {
      const metadata = this.cluster.machines.metadata(m.id);
      const keys = Object.keys(metadata).sort();
      return {
        id: m.id,
        metadata: keys.length ? Object.fromEntries(keys.map((k) => [k, metadata[k]])) : undefined,
        primaryIP: m.primaryIP || undefined,
      };
    });
    const page = pageOf(machines, token);
    sendJson(res, 200, { machines: page.items.length ? page.items : undefined, nextPageToken: page.next ?? undefined });
  }

  /** PATCH /machines (spec §3.9): validate every operation first, then apply them in order. */
  private patchMachines(req: FleetRequest, res: http.ServerResponse): void {
    let ops: Array<DecodedMetadataOp | undefined>;
    try {
      const { value, error } = unmarshal(decodeFirstValue(req.body), METADATA_OPS_TYPE);
      if (error) return sendError(res, 400, error);
      ops = (value ?? []) as Array<DecodedMetadataOp | undefined>;
    } catch (err) {
      if (err instanceof GoJsonError) return sendError(res, 400, err.message);
      throw err;
    }
    const parsed: Array<{ op: string; machineId: string; key: string; value: string }> = [];
    for (const raw of ops) {
      const op = raw?.op ?? '';
      const path = raw?.Path ?? '';
      const value = raw?.Value?.value ?? '';
      if (op !== 'add' && op !== 'remove' && op !== 'replace') return sendError(res, 400, 'invalid op: expect add, remove, or replace');
      const match = /^\/([^/]+)\/metadata\/([A-Za-z0-9_.-]+)$/.exec(path);
      if (!match) return sendError(res, 400, 'machine metadata path invalid');
      if (op !== 'remove' && value === '') return sendError(res, 400, 'invalid value: add and replace require a value');
      parsed.push({ op, machineId: match[1], key: match[2], value });
    }
    for (const p of parsed) this.cluster.machines.setDynamic(p.machineId, p.key, p.op === 'remove' ? '' : p.value);
    if (parsed.length > 0) this.cluster.registry.changed();
    sendNoContent(res, true);
  }
}

function invalidJobState(value: string): string {
  return `invalid value ${goQuote(value)} for JobState`;
}

function stateJson(s: { name: string; hash: string; machineID: string; systemdLoadState: string; systemdActiveState: string; systemdSubState: string }) {
  return {
    hash: s.hash || undefined,
    machineID: s.machineID || undefined,
    name: s.name || undefined,
    systemdActiveState: s.systemdActiveState || undefined,
    systemdLoadState: s.systemdLoadState || undefined,
    systemdSubState: s.systemdSubState || undefined,
  };
}
