import { goQuote, goQuoteRune, utf8Length } from './go-text';

/**
 * A unit name taken apart the way fleet's NewUnitNameInfo does (spec §7.2). `suffix` is the unit type
 * without the dot ("service"); `template` is "" when the name has no `@`.
 */
export interface UnitNameInfo {
  fullName: string;
  name: string;
  prefix: string;
  instance: string;
  suffix: string;
  template: string;
  isTemplate: boolean;
  isInstance: boolean;
}

export function unitNameInfo(fullName: string): UnitNameInfo {
  const dot = fullName.lastIndexOf('.');
  const name = dot === -1 ? fullName : fullName.slice(0, dot);
  const suffix = dot === -1 ? '' : fullName.slice(dot + 1);
  const at = name.indexOf('@');
  if (at === -1) {
    return { fullName, name, prefix: name, instance: '', suffix, template: '', isTemplate: false, isInstance: false };
  }
  const prefix = name.slice(0, at);
  const instance = name.slice(at + 1);
  return {
    fullName,
    name,
    prefix,
    instance,
    suffix,
    template: `${prefix}@${dot === -1 ? '' : `.${suffix}`}`,
    isTemplate: instance === '',
    isInstance: instance !== '',
  };
}

export const UNIT_NAME_MAX = 256;

export const VALID_UNIT_TYPES: readonly string[] = [
  'automount', 'busname', 'device', 'mount', 'path', 'scope', 'service', 'slice', 'snapshot', 'socket', 'swap',
  'target', 'timer',
];

export const VALID_TEMPLATE_UNIT_TYPES: readonly string[] = ['path', 'service', 'socket', 'target', 'timer'];

const VALID_NAME_CHAR = /^[A-Za-z0-9:_.@\-\\]$/;

/** fleet's name validation on PUT (spec §7.1): the exact 400 message of the first failing rule, or null. */
export function validateUnitName(name: string): string | null {
  if (name === '') return 'unit name cannot be empty';
  if (utf8Length(name) > UNIT_NAME_MAX) return `unit name exceeds maximum length (${UNIT_NAME_MAX})`;
  const dot = name.lastIndexOf('.');
  if (dot === -1) return 'unit name must contain "."';
  if (dot === name.length - 1) return 'unit name cannot end in "."';
  const suffix = name.slice(dot + 1);
  if (!VALID_UNIT_TYPES.includes(suffix)) return `invalid unit type: ${goQuote(suffix)}`;
  if (name.includes('@') && !VALID_TEMPLATE_UNIT_TYPES.includes(suffix)) {
    return `invalid unit type for template: ${goQuote(suffix)}`;
  }
  for (const ch of name.slice(0, dot)) {
    if (!VALID_NAME_CHAR.test(ch)) return `invalid character ${goQuoteRune(ch)} in unit name`;
  }
  if (name.startsWith('@')) return 'unit name cannot start in "@"';
  return null;
}
