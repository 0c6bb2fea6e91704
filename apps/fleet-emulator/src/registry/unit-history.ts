/** One change of the unit registry: a unit created (a name that was not there), replaced (new options) or destroyed. */
export interface UnitChange {
  /** 1, 2, 3 ... in the order the registry changed. */
  seq: number;
  /** Wall ms. */
  at: number;
  unit: string;
  change: 'created' | 'replaced' | 'destroyed';
}

/**
 * The registry's changes in order, for `GET /emulator/history`: a test reads them to see every unit creation and
 * removal exactly, which polling the unit list cannot (a unit destroyed and created again between two polls).
 * Bounded: the oldest changes are dropped past `limit`, and the answer says from which seq it still knows.
 */
export class UnitHistory {
  private readonly changes: UnitChange[] = [];
  private seq = 0;

  constructor(private readonly limit = 100_000) {}

  add(unit: string, change: UnitChange['change']): void {
    this.seq += 1;
    this.changes.push({ seq: this.seq, at: Date.now(), unit, change });
    // Trim in chunks: one splice per tenth of the limit, not one per change.
    if (this.changes.length > this.limit * 1.1) this.changes.splice(0, this.changes.length - this.limit);
  }

  /** Changes after `seq` (at most `max`), the last seq there is, and the oldest seq still kept. */
  after(seq: number, max = 10_000): { changes: UnitChange[]; last: number; oldest: number } {
    const oldest = this.changes[0]?.seq ?? this.seq + 1;
    const from = Math.max(0, seq + 1 - oldest);
    return { changes: this.changes.slice(from, from + max), last: this.seq, oldest };
  }
}
