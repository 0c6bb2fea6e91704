import type { DynamiteConfig } from '../config/types';
import { portRangeOf } from './ports';

/**
 * Which configured service a fleet unit is an instance of, used to adopt running units at start.
 * Only non-attached services are matched (attached units are adopted with their parent), and a unit that is not
 * exactly one of our instance names is never claimed: the engine must not touch other people's units.
 */
export function parseInstanceOf(
  config: DynamiteConfig,
  unitName: string,
): { service: string; port: number | null } | null {
  const template = /^([^@]+)@(\d+)\.service$/.exec(unitName);
  for (const service of config.services) {
    if (service.isAttached) continue;
    if (!service.isTemplate) {
      if (unitName === service.unitFile) return { service: service.name, port: null };
      continue;
    }
    if (template === null || template[1] !== service.name) continue;
    const digits = template[2]!;
    const port = Number(digits);
    // `web@08080.service` is not a name we would have given; leave it alone.
    if (String(port) !== digits) continue;
    const range = portRangeOf(service);
    if (range !== null && port >= range.first && port <= range.last) return { service: service.name, port };
  }
  return null;
}
