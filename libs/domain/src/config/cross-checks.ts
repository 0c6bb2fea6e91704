import type { ConfigWarning, ScalingPolicyConfig, ServiceConfig } from './types';
import { joinPath, type ConfigError } from './errors';
import { didYouMean } from './suggest';
import { formatRange, portRange, rangesOverlap } from './port-ranges';
import { ATTACHED_TYPE } from './build-service';
import { quote } from './names';

/** How many unknown references get a "did you mean" (each compares the name with every declared one). */
const SUGGESTIONS_MAX = 20;

/**
 * Checks between entries: policy references, attached services, port ranges. `declaredServices` and
 * `declaredPolicies` hold every name in the file, valid or not, so that a reference to an entry that has
 * errors of its own is not reported as unknown as well.
 */
export function crossCheck(input: {
  services: ServiceConfig[];
  policies: ScalingPolicyConfig[];
  declaredServices: string[];
  declaredPolicies: string[];
  /** Where the `index`-th policy reference of a service is written: `[key]` (the original's mapping) or `[key, index]` (a list). */
  policyRefPath?: (service: string, key: 'scale_up_policy' | 'scale_down_policy', index: number) => (string | number)[];
}): { errors: ConfigError[]; warnings: ConfigWarning[] } {
  const policyRefPath = input.policyRefPath ?? ((_s: string, key: string) => [key]);
  const errors: ConfigError[] = [];
  const warnings: ConfigWarning[] = [];
  const byName = new Map(input.services.map((s) => [s.name, s]));
  const declaredPolicies = new Set(input.declaredPolicies);
  const declaredServices = new Set(input.declaredServices);
  // A suggestion compares a name with every declared one; a flood of unknown names (a list can hold 100,000)
  // gets suggestions for its first few only, so the check stays linear in the size of the file.
  let suggestionsLeft = SUGGESTIONS_MAX;
  const suggest = (word: string, names: string[]) => (suggestionsLeft-- > 0 ? didYouMean(word, names) : '');

  for (const service of input.services) {
    for (const [key, refs] of [['scale_up_policy', service.scaleUpPolicies], ['scale_down_policy', service.scaleDownPolicies]] as const) {
      refs.forEach((ref, index) => {
        if (declaredPolicies.has(ref)) return;
        errors.push({
          path: joinPath(['Service', service.name, ...policyRefPath(service.name, key, index), 'ScalingPolicy']),
          message: `unknown policy ${quote(ref)}${suggest(ref, input.declaredPolicies)}`,
        });
      });
    }
    checkAttachments(service, byName, { names: input.declaredServices, set: declaredServices }, errors, suggest);
    if (service.isAttached) {
      if (service.attachedServices.length > 0) {
        errors.push({ path: joinPath(['Service', service.name, 'attached_service']), message: 'an attached service cannot have attached services of its own' });
      }
      for (const [key, refs] of [['scale_up_policy', service.scaleUpPolicies], ['scale_down_policy', service.scaleDownPolicies]] as const) {
        if (refs.length > 0) errors.push({ path: joinPath(['Service', service.name, key]), message: 'an attached service cannot have scaling policies (it follows the instances of its parent)' });
      }
    }
  }

  // Attached services: how many can exist is the sum of their parents' maxima. (Every check here stays linear in
  // the number of entries: a config may declare 10,000 services and 20,000 policies.)
  const parentsOf = new Map<string, ServiceConfig[]>();
  for (const parent of input.services) {
    if (parent.isAttached) continue;
    for (const name of new Set(parent.attachedServices)) parentsOf.set(name, [...(parentsOf.get(name) ?? []), parent]);
  }
  for (const service of input.services) {
    if (!service.isAttached) continue;
    const parents = parentsOf.get(service.name) ?? [];
    service.maxInstance = parents.reduce((sum, p) => sum + p.maxInstance, 0);
    if (parents.length === 0) {
      warnings.push({ path: joinPath(['Service', service.name]), message: `typed ${ATTACHED_TYPE} but no service attaches it, so it is never started` });
    }
  }

  checkPortOverlaps(input.services, errors);
  checkSharedSingleUnits(input.services, errors);
  warnings.push(...flappingWarnings(input.services, input.policies, policyRefPath));

  const used = new Set(input.services.flatMap((s) => [...s.scaleUpPolicies, ...s.scaleDownPolicies]));
  for (const policy of input.policies) {
    if (!used.has(policy.name)) warnings.push({ path: joinPath(['ScalingPolicy', policy.name]), message: 'not used by any service' });
  }
  return { errors, warnings };
}

/**
 * The values of a metric that breach a policy: above its threshold (`gt`) or below it (`lt`), strictly, as an open
 * interval. Two policies of one service on the same metric whose intervals meet both hold for the values between: a
 * scale up and a scale down fed by the same samples, a service that flaps.
 */
function breachInterval(policy: ScalingPolicyConfig): { low: number; high: number } {
  return policy.operator === 'gt' ? { low: policy.threshold, high: Infinity } : { low: -Infinity, high: policy.threshold };
}

function describeOverlap(low: number, high: number): string {
  if (low === -Infinity && high === Infinity) return 'every value';
  if (low === -Infinity) return `every value below ${high}`;
  if (high === Infinity) return `every value above ${low}`;
  return `every value between ${low} and ${high}`;
}

/** A warning per (scale-up, scale-down) pair of one service on the same metric whose thresholds overlap. */
export function flappingWarnings(
  services: ServiceConfig[],
  policies: ScalingPolicyConfig[],
  policyRefPath: (service: string, key: 'scale_up_policy' | 'scale_down_policy', index: number) => (string | number)[],
): ConfigWarning[] {
  const byName = new Map(policies.map((p) => [p.name, p]));
  const warnings: ConfigWarning[] = [];
  for (const service of services) {
    service.scaleDownPolicies.forEach((downName, index) => {
      const down = byName.get(downName);
      if (!down) return;
      for (const upName of service.scaleUpPolicies) {
        const up = byName.get(upName);
        if (!up || up.serviceType !== down.serviceType || up.metric !== down.metric) continue;
        const a = breachInterval(up);
        const b = breachInterval(down);
        const low = Math.max(a.low, b.low);
        const high = Math.min(a.high, b.high);
        if (low >= high) continue;
        warnings.push({
          path: joinPath(['Service', service.name, ...policyRefPath(service.name, 'scale_down_policy', index)]),
          message: `${quote(down.name)} (${down.metric} ${down.operator} ${down.threshold}) and the scale-up policy ${quote(up.name)} ` +
            `(${up.metric} ${up.operator} ${up.threshold}) both hold for ${describeOverlap(low, high)} of ${up.serviceType}: ` +
            `the service would scale up and down on the same samples (flapping)`,
        });
      }
    });
  }
  return warnings;
}

function checkAttachments(
  service: ServiceConfig,
  byName: Map<string, ServiceConfig>,
  declared: { names: string[]; set: Set<string> },
  errors: ConfigError[],
  suggest: (word: string, names: string[]) => string,
): void {
  const seen = new Set<string>();
  service.attachedServices.forEach((name, index) => {
    const path = joinPath(['Service', service.name, 'attached_service', index]);
    if (seen.has(name)) {
      errors.push({ path, message: `${quote(name)} is listed twice` });
      return;
    }
    seen.add(name);
    if (!declared.set.has(name)) {
      errors.push({ path, message: `unknown service ${quote(name)}${suggest(name, declared.names)}` });
      return;
    }
    const attached = byName.get(name);
    if (!attached) return; // declared but invalid: its own errors say why
    if (!attached.isAttached) {
      errors.push({ path, message: `service ${quote(name)} is not typed ${ATTACHED_TYPE}; add type: ${ATTACHED_TYPE} to it` });
      return;
    }
    if (service.isAttached) return; // reported once, on the attaching service itself
    if (service.isTemplate && !attached.isTemplate) {
      errors.push({
        path,
        message: `service ${quote(name)} has a non-template unit (${attached.unitFile}), but attached units share their parent's instance number, so it must be a template like ${quote(`${name}@.service`)}`,
      });
    } else if (!service.isTemplate && attached.isTemplate) {
      errors.push({
        path,
        message: `service ${quote(name)} has a template unit (${attached.unitFile}), but its parent ${quote(service.name)} is not a template, so there is no instance number to give it`,
      });
    }
  });
}

function checkPortOverlaps(services: ServiceConfig[], errors: ConfigError[]): void {
  const ranged = services.flatMap((s) => {
    const range = portRange(s);
    return range ? [{ service: s, range }] : [];
  });
  // A sweep over the ranges by first port finds every overlapping pair without comparing all pairs; the errors are
  // then given in declaration order (the later service of a pair names the earlier).
  const byFirst = ranged.map((_, i) => i).sort((x, y) => ranged[x]!.range.first - ranged[y]!.range.first);
  const pairs: [later: number, earlier: number][] = [];
  let open: number[] = [];
  for (const i of byFirst) {
    const { first } = ranged[i]!.range;
    open = open.filter((j) => ranged[j]!.range.last >= first);
    for (const j of open) if (rangesOverlap(ranged[i]!.range, ranged[j]!.range)) pairs.push(i > j ? [i, j] : [j, i]);
    open.push(i);
  }
  pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (const [i, j] of pairs) {
    const a = ranged[j]!;
    const b = ranged[i]!;
    errors.push({
      path: joinPath(['Service', b.service.name, 'base_instance_prefix_number']),
      message: `${formatRange(b.range)} overlap ${formatRange(a.range)} of service ${quote(a.service.name)}`,
    });
  }
}

/** A non-template unit is one fleet unit, named by its file: two services cannot both own it. */
function checkSharedSingleUnits(services: ServiceConfig[], errors: ConfigError[]): void {
  const owner = new Map<string, string>();
  for (const service of services) {
    if (service.isTemplate) continue;
    const first = owner.get(service.unitFile);
    if (first === undefined) {
      owner.set(service.unitFile, service.name);
      continue;
    }
    errors.push({
      path: joinPath(['Service', service.name, 'name_of_unit_file']),
      message: `${quote(service.unitFile)} is already the unit of service ${quote(first)}; a non-template unit is a single fleet unit`,
    });
  }
}
