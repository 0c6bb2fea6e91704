import { sha1Hex } from './sha1';
import { serializeUnitOptions } from './unit-file-serializer';
import type { UnitOption } from './unit-option';

const encoder = new TextEncoder();

/** fleet's unit hash: lowercase hex SHA-1 of the serialized options (spec §7.4), exactly as given. */
export function unitHash(options: UnitOption[]): string {
  return sha1Hex(encoder.encode(serializeUnitOptions(options)));
}
