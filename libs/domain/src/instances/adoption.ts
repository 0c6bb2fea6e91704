import type { DynamiteConfig } from '../config/types';
import { matchInstanceName, namingOfService } from './membership';

/**
 * Which configured service a fleet unit is an instance of, used to adopt running units at start.
 * Only non-attached services are matched (attached units are adopted with their parent), and a unit that is not
 * exactly one of our instance names within its service's ports is never claimed: the engine must not touch other
 * people's units.
 */
export function parseInstanceOf(
  config: DynamiteConfig,
  unitName: string,
): { service: string; port: number | null } | null {
  for (const service of config.services) {
    if (service.isAttached) continue;
    const match = matchInstanceName(namingOfService(config, service), unitName);
    if (match.ok && match.inRange) return { service: service.name, port: match.port };
  }
  return null;
}
