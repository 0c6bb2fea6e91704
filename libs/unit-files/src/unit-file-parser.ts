import { GoBufferedReader } from './go-buffered-reader';
import { goIsSpace, goTrimSpace } from './go-text';
import { UnitFileParseError, type UnitOption } from './unit-option';

/**
 * Parses unit-file text into options exactly like the go-systemd deserializer vendored by fleet v1.0.0
 * (spec §7.3): the same lexer steps, the same `line too long` check on Go's buffer boundaries, and the same
 * error messages. fleet runs this on every read of a unit, so it decides what GET returns.
 */

export const SYSTEMD_LINE_MAX = 2048;

/**
 * The largest unit file dynamite reads (1 MiB). fleet stores every unit in etcd, whose requests are limited to
 * 1.5 MiB by default; a real unit file is a few KB.
 */
export const UNIT_FILE_MAX_BYTES = 1024 * 1024;

const NEWLINE = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const EQUALS = 0x3d;

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const encoder = new TextEncoder();

type Step =
  | { kind: 'nextSection' }
  | { kind: 'ignoreLine'; then: Step }
  | { kind: 'sectionName' }
  | { kind: 'sectionSuffix'; section: string }
  | { kind: 'nextSectionOrOption'; section: string }
  | { kind: 'optionName'; section: string }
  | { kind: 'optionValue'; section: string; name: string; partial: Uint8Array[] };

function isComment(cp: number): boolean {
  return cp === 0x23 /* # */ || cp === 0x3b /* ; */;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  if (parts.length === 0) return new Uint8Array(0);
  const total = parts.reduce((sum, p) => sum + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** The trimmed text of raw line bytes (Go: strings.TrimSpace(string(bytes))). */
function trimmedText(bytes: Uint8Array): string {
  return goTrimSpace(decoder.decode(bytes));
}

/** Go's `%v` of a byte slice: `[105 99 101 93]`. */
function goBytes(bytes: Uint8Array): string {
  return `[${Array.from(bytes).join(' ')}]`;
}

/** Go's bytes.TrimSpace. The input always comes from a JS string, so it is valid UTF-8 and decoding is lossless. */
function trimBytes(bytes: Uint8Array): Uint8Array {
  return encoder.encode(goTrimSpace(decoder.decode(bytes)));
}

export function parseUnitFile(text: string): UnitOption[] {
  const reader = new GoBufferedReader(encoder.encode(text));
  const options: UnitOption[] = [];

  // go-systemd's toEOL: read to '\n' (EOF counts as end of line), then trim a '\r' suffix and a '\n' suffix,
  // in that order (so for CRLF the '\r' stays in the line and is removed later by TrimSpace).
  const toEOL = (): { line: Uint8Array; eof: boolean } => {
    const { bytes, eof } = reader.readBytes(NEWLINE);
    let line = bytes;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > 0 && line[line.length - 1] === NEWLINE) line = line.subarray(0, line.length - 1);
    return { line, eof };
  };

  let step: Step | null = { kind: 'nextSection' };
  while (step !== null) {
    if (reader.buffered() >= SYSTEMD_LINE_MAX) {
      const window = reader.peekBuffered(SYSTEMD_LINE_MAX);
      if (!window.includes(NEWLINE) && !window.includes(CR)) {
        throw new UnitFileParseError(`line too long (max ${SYSTEMD_LINE_MAX} bytes)`);
      }
    }
    step = runStep(step);
  }
  return options;

  function runStep(current: Step): Step | null {
    switch (current.kind) {
      case 'nextSection': {
        const cp = reader.readRune();
        if (cp === null) return null;
        if (cp === OPEN_BRACKET) return { kind: 'sectionName' };
        if (isComment(cp)) return { kind: 'ignoreLine', then: current };
        return current;
      }
      case 'ignoreLine': {
        for (;;) {
          let { line } = toEOL();
          if (line.length > 0 && line[line.length - 1] === SPACE) line = line.subarray(0, line.length - 1);
          // A trailing backslash continues the comment onto the next line.
          if (!(line.length > 0 && line[line.length - 1] === BACKSLASH)) break;
        }
        return current.then;
      }
      case 'sectionName': {
        const { bytes, eof } = reader.readBytes(CLOSE_BRACKET);
        if (eof) throw new UnitFileParseError('unable to find end of section');
        return { kind: 'sectionSuffix', section: decoder.decode(bytes.subarray(0, bytes.length - 1)) };
      }
      case 'sectionSuffix': {
        const garbage = trimBytes(toEOL().line);
        if (garbage.length > 0) {
          // go-systemd prints its (never set) current section, hence the empty name before the colon.
          throw new UnitFileParseError(`found garbage after section name : ${goBytes(garbage)}`);
        }
        return { kind: 'nextSectionOrOption', section: current.section };
      }
      case 'nextSectionOrOption': {
        const cp = reader.readRune();
        if (cp === null) return null;
        if (goIsSpace(cp)) return current;
        if (cp === OPEN_BRACKET) return { kind: 'sectionName' };
        if (isComment(cp)) return { kind: 'ignoreLine', then: current };
        reader.unreadRune();
        return { kind: 'optionName', section: current.section };
      }
      case 'optionName': {
        let partial = '';
        for (;;) {
          const cp = reader.readRune();
          if (cp === null) throw new UnitFileParseError('EOF');
          if (cp === NEWLINE || cp === CR) {
            throw new UnitFileParseError('unexpected newline encountered while parsing option name');
          }
          if (cp === EQUALS) break;
          partial += String.fromCodePoint(cp);
        }
        return { kind: 'optionValue', section: current.section, name: goTrimSpace(partial), partial: [] };
      }
      case 'optionValue': {
        const { line, eof } = toEOL();
        if (trimmedText(line) !== '') {
          current.partial.push(line);
          // A trailing backslash continues the value; the backslash and the newline stay in it.
          if (line[line.length - 1] === BACKSLASH) {
            if (!eof) current.partial.push(Uint8Array.of(NEWLINE));
            return current;
          }
        }
        options.push({ section: current.section, name: current.name, value: trimmedText(concat(current.partial)) });
        return { kind: 'nextSectionOrOption', section: current.section };
      }
    }
  }
}
