/**
 * A replica of Go's bufio.Reader (default 4096-byte buffer) over an in-memory byte array, tracking exactly
 * when the buffer is refilled. go-systemd's "line too long" check looks at `Buffered()`, so the point where it
 * fires depends on these refills; copying them keeps the check as approximate as fleet's, in the same places.
 * Positions are absolute offsets into the source: the buffer holds src[r, w).
 */
export const GO_BUFIO_SIZE = 4096;

export interface ReadResult {
  bytes: Uint8Array;
  eof: boolean;
}

export class GoBufferedReader {
  private r = 0;
  private w = 0;
  private lastRuneSize = -1;

  constructor(private readonly src: Uint8Array) {}

  buffered(): number {
    return this.w - this.r;
  }

  /** Slides the unread bytes to the buffer start and reads once; false when the source is exhausted (EOF). */
  private fill(): boolean {
    const room = GO_BUFIO_SIZE - (this.w - this.r);
    const n = Math.min(room, this.src.length - this.w);
    this.w += n;
    return n > 0;
  }

  /** Returns the code point read (U+FFFD for invalid UTF-8, width 1), or null at EOF. */
  readRune(): number | null {
    let exhausted = false;
    while (this.r + 4 > this.w && !this.fullRune() && !exhausted && this.w - this.r < GO_BUFIO_SIZE) {
      if (!this.fill()) exhausted = true;
    }
    this.lastRuneSize = -1;
    if (this.r === this.w) return null;
    const [cp, size] = decodeRune(this.src, this.r, this.w);
    this.r += size;
    this.lastRuneSize = size;
    return cp;
  }

  unreadRune(): void {
    if (this.lastRuneSize > 0) this.r -= this.lastRuneSize;
    this.lastRuneSize = -1;
  }

  /** Go's ReadBytes(delim): bytes up to and including delim; eof when the source ended first. */
  readBytes(delim: number): ReadResult {
    const start = this.r;
    let searched = 0;
    let exhausted = false;
    for (;;) {
      const found = this.src.subarray(this.r + searched, this.w).indexOf(delim);
      if (found >= 0) {
        this.r += searched + found + 1;
        return { bytes: this.src.subarray(start, this.r), eof: false };
      }
      if (exhausted) {
        this.r = this.w;
        return { bytes: this.src.subarray(start, this.r), eof: true };
      }
      if (this.w - this.r >= GO_BUFIO_SIZE) {
        // ErrBufferFull: ReadBytes keeps the fragment and calls ReadSlice again on an empty buffer.
        this.r = this.w;
        searched = 0;
      } else {
        searched = this.w - this.r;
      }
      if (!this.fill()) exhausted = true;
    }
    // unreachable
  }

  /** Peek(n) when at least n bytes are buffered (the only way the lexer uses it). */
  peekBuffered(n: number): Uint8Array {
    return this.src.subarray(this.r, this.r + Math.min(n, this.w - this.r));
  }

  private fullRune(): boolean {
    const n = this.w - this.r;
    if (n === 0) return false;
    const b0 = this.src[this.r];
    const need = b0 < 0x80 ? 1 : b0 >= 0xc2 && b0 <= 0xdf ? 2 : b0 >= 0xe0 && b0 <= 0xef ? 3 : b0 >= 0xf0 && b0 <= 0xf4 ? 4 : 1;
    if (n >= need) return true;
    // An invalid continuation byte already decides the (error) rune.
    for (let i = 1; i < n; i++) if ((this.src[this.r + i] & 0xc0) !== 0x80) return true;
    return false;
  }
}

/** Go's utf8.DecodeRune on src[at, end): [codePoint, width]; invalid input gives [0xFFFD, 1]. */
export function decodeRune(src: Uint8Array, at: number, end: number): [number, number] {
  const b0 = src[at];
  if (b0 < 0x80) return [b0, 1];
  let need: number;
  let cp: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) { need = 2; cp = b0 & 0x1f; }
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 3; cp = b0 & 0x0f;
    if (b0 === 0xe0) lo = 0xa0;
    if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 4; cp = b0 & 0x07;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f;
  } else return [0xfffd, 1];
  if (end - at < need) return [0xfffd, 1];
  for (let i = 1; i < need; i++) {
    const b = src[at + i];
    const min = i === 1 ? lo : 0x80;
    const max = i === 1 ? hi : 0xbf;
    if (b < min || b > max) return [0xfffd, 1];
    cp = (cp << 6) | (b & 0x3f);
  }
  return [cp, need];
}
