import { createHash } from 'node:crypto';
import { serializeUnitOptions } from './unit-file-serializer';
import type { UnitOption } from './unit-option';

/** fleet's unit hash: lowercase hex SHA-1 of the serialized options (spec §7.4), exactly as given. */
export function unitHash(options: UnitOption[]): string {
  return createHash('sha1').update(serializeUnitOptions(options), 'utf8').digest('hex');
}
