import { unitNameInfo } from './unit-name';

/** What the host knows for specifier expansion; the user fields are optional and left unexpanded if missing. */
export interface SpecifierContext {
  unitName: string;
  machineId: string;
  hostname: string;
  bootId?: string;
  userName?: string;
  uid?: number;
  home?: string;
  runtimeDir?: string;
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** systemd's unit_name_unescape: `-` becomes `/`, `\xNN` becomes that byte. */
export function unescapeUnitNamePart(part: string): string {
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < part.length; i++) {
    const ch = part[i];
    if (ch === '-') { bytes.push(0x2f); continue; }
    if (ch === '\\' && part[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(part.slice(i + 2, i + 4))) {
      bytes.push(parseInt(part.slice(i + 2, i + 4), 16));
      i += 3;
      continue;
    }
    bytes.push(...encoder.encode(ch));
  }
  return decoder.decode(Uint8Array.from(bytes));
}

/**
 * Expands systemd specifiers in a unit value (spec §12): `%n %N %p %P %i %I %f %H %m %b %u %U %h %t %%`.
 * `%N` is the name without the suffix (modern systemd; fleet's X-Fleet meaning too). A specifier whose value
 * is unknown, or an unknown letter, is left as written.
 */
export function expandSystemdSpecifiers(value: string, ctx: SpecifierContext): string {
  const info = unitNameInfo(ctx.unitName);
  const table: Record<string, string | undefined> = {
    n: info.fullName,
    N: info.name,
    p: info.prefix,
    P: unescapeUnitNamePart(info.prefix),
    i: info.instance,
    I: unescapeUnitNamePart(info.instance),
    f: `/${unescapeUnitNamePart(info.instance !== '' ? info.instance : info.prefix)}`,
    H: ctx.hostname,
    m: ctx.machineId,
    b: ctx.bootId,
    u: ctx.userName,
    U: ctx.uid === undefined ? undefined : String(ctx.uid),
    h: ctx.home,
    t: ctx.runtimeDir,
    '%': '%',
  };
  return value.replace(/%(.)/gs, (whole, letter: string) => table[letter] ?? whole);
}
