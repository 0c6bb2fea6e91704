import type { ServiceConfig } from '../config/types';

/**
 * Port slots of template services. Slot k (0 <= k < max_instance) covers the ports
 * [base + k*ppi, base + k*ppi + ppi - 1]; an instance named after port p occupies [p, p + ppi - 1].
 * Instances adopted from fleet may sit on unaligned ports; a slot is free only when its range meets no
 * occupied range. (The original tracked single ports and broke with ports_per_instance > 1.)
 */

/** The first port of the lowest free slot, or null when every slot is taken (or the service has no ports). */
export function allocatePort(service: ServiceConfig, occupied: { port: number | null }[]): number | null {
  // A non-template service has no ports; whether its single instance may be created is decided by name.
  if (!service.isTemplate || service.basePort === null) return null;
  const width = Math.max(1, service.portsPerInstance);
  const taken = occupied.flatMap((o) => (o.port === null ? [] : [o.port]));
  for (let slot = 0; slot < service.maxInstance; slot += 1) {
    const first = service.basePort + slot * width;
    const last = first + width - 1;
    const collides = taken.some((port) => port <= last && port + width - 1 >= first);
    if (!collides) return first;
  }
  return null;
}

/** The ports instances of this service may be named after: [base, base + max*ppi - 1], or null if none. */
export function portRangeOf(service: Pick<ServiceConfig, 'isTemplate' | 'basePort' | 'maxInstance' | 'portsPerInstance'>): { first: number; last: number } | null {
  if (!service.isTemplate || service.basePort === null) return null;
  const width = Math.max(1, service.portsPerInstance);
  return { first: service.basePort, last: service.basePort + service.maxInstance * width - 1 };
}

/** The original's `used_port_numbers`: one slot per port, the port number where used, 0 where free. */
export function usedPortNumbers(service: ServiceConfig, instances: { port: number | null }[]): number[] | undefined {
  if (!service.isTemplate || service.basePort === null) return undefined;
  const slots = new Array<number>(service.maxInstance * service.portsPerInstance).fill(0);
  for (const instance of instances) {
    if (instance.port === null) continue;
    for (let p = instance.port; p < instance.port + service.portsPerInstance; p += 1) {
      const index = p - service.basePort;
      if (index >= 0 && index < slots.length) slots[index] = p;
    }
  }
  return slots;
}
