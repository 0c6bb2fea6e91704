/** One `Name=Value` line of a systemd unit file, in the section it belongs to. `value` may be "". */
export interface UnitOption {
  section: string;
  name: string;
  value: string;
}

/**
 * A unit file that go-systemd's deserializer rejects. The message is go-systemd's own text, because fleet
 * returns it verbatim as a 400 message (e.g. `unexpected newline encountered while parsing option name`).
 */
export class UnitFileParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnitFileParseError';
  }
}
