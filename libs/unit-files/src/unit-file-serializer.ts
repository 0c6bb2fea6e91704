import { parseUnitFile } from './unit-file-parser';
import type { UnitOption } from './unit-option';

/**
 * go-systemd's Serialize (spec §7.4): options grouped by section in order of first appearance, relative order
 * kept inside a section, one blank line between sections, none after the last. No options give "".
 */
export function serializeUnitOptions(options: UnitOption[]): string {
  const bySection = new Map<string, UnitOption[]>();
  for (const option of options) {
    const group = bySection.get(option.section);
    if (group) group.push(option);
    else bySection.set(option.section, [option]);
  }
  const parts: string[] = [];
  for (const [section, group] of bySection) {
    let text = `[${section}]\n`;
    for (const option of group) text += `${option.name}=${option.value}\n`;
    parts.push(text);
  }
  return parts.join('\n');
}

/** What fleet stores and returns on GET: the options serialized and parsed again. Throws UnitFileParseError. */
export function normalizeUnitOptions(options: UnitOption[]): UnitOption[] {
  return parseUnitFile(serializeUnitOptions(options));
}
