/** Request counts per method and route pattern, and per unit, for `GET /emulator/stats`. */
export class RequestStats {
  private total = 0;
  private readonly byRoute = new Map<string, number>();
  private readonly byUnit = new Map<string, Map<string, number>>();
  private readonly byStatus = new Map<number, number>();

  record(method: string, route: string, unit: string | null): void {
    this.total++;
    const key = `${method} ${route}`;
    this.byRoute.set(key, (this.byRoute.get(key) ?? 0) + 1);
    if (unit !== null) {
      let methods = this.byUnit.get(unit);
      if (!methods) { methods = new Map(); this.byUnit.set(unit, methods); }
      methods.set(method, (methods.get(method) ?? 0) + 1);
    }
  }

  recordStatus(status: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }

  reset(): void {
    this.total = 0;
    this.byRoute.clear();
    this.byUnit.clear();
    this.byStatus.clear();
  }

  snapshot(): { total: number; requests: Record<string, number>; units: Record<string, Record<string, number>>; statuses: Record<string, number> } {
    const sorted = <V>(map: Map<string, V>) => Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : 1)));
    return {
      total: this.total,
      requests: sorted(this.byRoute),
      units: Object.fromEntries([...this.byUnit].sort(([a], [b]) => (a < b ? -1 : 1)).map(([u, m]) => [u, Object.fromEntries(m)])),
      statuses: Object.fromEntries([...this.byStatus].map(([s, n]) => [String(s), n])),
    };
  }
}
