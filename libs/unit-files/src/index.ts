export { type UnitOption, UnitFileParseError } from './unit-option';
export { parseUnitFile, SYSTEMD_LINE_MAX, UNIT_FILE_MAX_BYTES } from './unit-file-parser';
export { serializeUnitOptions, normalizeUnitOptions } from './unit-file-serializer';
export { unitHash } from './unit-hash';
export {
  type UnitNameInfo, unitNameInfo, validateUnitName, UNIT_NAME_MAX, VALID_UNIT_TYPES, VALID_TEMPLATE_UNIT_TYPES,
} from './unit-name';
export { goPathMatch } from './go-path-match';
export {
  type FleetRequirements, fleetRequirements, parseMultivalueLine, expandFleetSpecifiers, xFleetValues, KNOWN_X_FLEET_KEYS,
} from './fleet-requirements';
export { validateUnitOptions } from './unit-options-validation';
export { type SpecifierContext, expandSystemdSpecifiers, unescapeUnitNamePart } from './systemd-specifiers';
export { goQuote, goQuoteRune, goTrimSpace, goFields, goIsSpace } from './go-text';
export { parseTimespanMs } from './systemd-time';
