/** Per-unit ring buffers of output lines, for `GET /emulator/units/{name}/journal`. */

export type JournalStream = 'stdout' | 'stderr' | 'emulator';

export interface JournalEntry {
  time: string;
  machineID: string;
  stream: JournalStream;
  message: string;
}

export class Journal {
  private readonly entries = new Map<string, JournalEntry[]>();

  /** `capacity` lines per unit; at most `maxUnits` units (the oldest journal is dropped first). */
  constructor(private readonly capacity = 1000, private readonly maxUnits = 5000) {}

  append(unit: string, machineID: string, stream: JournalStream, message: string): void {
    let list = this.entries.get(unit);
    if (!list) {
      list = [];
      this.entries.set(unit, list);
      if (this.entries.size > this.maxUnits) this.entries.delete(this.entries.keys().next().value!);
    }
    list.push({ time: new Date().toISOString(), machineID, stream, message });
    if (list.length > this.capacity) list.splice(0, list.length - this.capacity);
  }

  lines(unit: string, limit?: number): JournalEntry[] {
    const list = this.entries.get(unit) ?? [];
    return limit === undefined ? [...list] : list.slice(Math.max(0, list.length - limit));
  }

  /** A writer that splits a byte stream into lines for one unit and stream. */
  lineWriter(unit: string, machineID: string, stream: JournalStream): { write(chunk: Buffer): void; end(): void } {
    let pending = '';
    return {
      write: (chunk) => {
        pending += chunk.toString('utf8');
        const parts = pending.split('\n');
        pending = parts.pop()!;
        for (const line of parts) this.append(unit, machineID, stream, line);
        if (pending.length > 16_384) { this.append(unit, machineID, stream, pending); pending = ''; }
      },
      end: () => {
        if (pending !== '') this.append(unit, machineID, stream, pending);
        pending = '';
      },
    };
  }
}
