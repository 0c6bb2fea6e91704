import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/**
 * Reads a config or unit file as UTF-8 text, refusing anything that could hang or flood the reader: the file
 * is opened without blocking (a FIFO would otherwise wait for a writer), must be a regular file (not
 * /dev/zero, a FIFO, a socket or a folder), and at most `maxBytes` long by fstat before a byte is read (a
 * sparse 2 GB file costs nothing to check). Bytes that are not UTF-8 are an error naming their offset, never
 * silently replaced by U+FFFD.
 */

export type TextFileResult = { ok: true; text: string } | { ok: false; code: string | null; message: string };

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function readTextFile(path: string, maxBytes: number): TextFileResult {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? null;
    return { ok: false, code, message: `cannot be read (${code ?? String(err)})` };
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) return { ok: false, code: 'EISDIR', message: 'is a folder' };
    if (!stat.isFile()) return { ok: false, code: null, message: `is ${kindOf(stat)}, not a regular file` };
    if (stat.size > maxBytes) return { ok: false, code: null, message: tooLarge(stat.size, maxBytes) };
    // Read at most one byte past the limit, whatever fstat said: the file may have grown since, and some
    // regular files (in /proc) report a size of 0. The buffer starts at the size fstat gave and grows as needed
    // (a buffer of the limit for every file made 10,000 unit files cost gigabytes of allocation).
    let buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(stat.size + 1, 4096)));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length === maxBytes + 1) return { ok: false, code: null, message: tooLarge(length, maxBytes, 'at least ') };
        const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, buffer.length * 2));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length === maxBytes + 1) return { ok: false, code: null, message: tooLarge(length, maxBytes, 'at least ') };
    const bytes = buffer.subarray(0, length);
    try {
      return { ok: true, text: decoder.decode(bytes) };
    } catch {
      return { ok: false, code: null, message: notUtf8(bytes) };
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? null;
    return { ok: false, code, message: `cannot be read (${code ?? String(err)})` };
  } finally {
    closeSync(fd);
  }
}

function tooLarge(size: number, maxBytes: number, atLeast = ''): string {
  return `is ${atLeast}${size} bytes; at most ${maxBytes} bytes (${maxBytes / 1024 / 1024} MiB) are read`;
}

function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notUtf8(bytes: Uint8Array): string {
  const offset = firstInvalidUtf8(bytes);
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  const hex = `0x${bytes[offset]!.toString(16).padStart(2, '0')}`;
  return `is not UTF-8 text: byte ${hex} at offset ${offset} (line ${line}, byte ${offset - lineStart + 1} of the line) does not start a valid UTF-8 character`;
}

/** Offset of the first byte that does not begin a well-formed UTF-8 sequence (RFC 3629); bytes.length if none. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) { i++; continue; }
    if (b >= 0xc2 && b <= 0xdf) { need = 1; min = 0x80; }
    else if (b >= 0xe0 && b <= 0xef) { need = 2; min = 0x800; }
    else if (b >= 0xf0 && b <= 0xf4) { need = 3; min = 0x10000; }
    else return i;
    if (i + need >= bytes.length) return i; // cut short by the end of the file
    let cp = b & (0xff >> (need + 2));
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return bytes.length;
}
