import type { ServiceConfig } from './types';

/** The ports a template service may use: [base, base + max_instance x ports_per_instance - 1]. */
export interface PortRange {
  first: number;
  last: number;
}

export function portRange(service: Pick<ServiceConfig, 'isTemplate' | 'isAttached' | 'basePort' | 'maxInstance' | 'portsPerInstance'>): PortRange | null {
  if (!service.isTemplate || service.isAttached || service.basePort === null) return null;
  return { first: service.basePort, last: service.basePort + service.maxInstance * service.portsPerInstance - 1 };
}

export function rangesOverlap(a: PortRange, b: PortRange): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function formatRange(r: PortRange): string {
  return r.first === r.last ? `port ${r.first}` : `ports ${r.first}-${r.last}`;
}
