import type { GoType } from './go-json';
import { GO_STRING } from './go-json';

/** schema.UnitOption and schema.Unit, as PUT /units decodes them. */
export const UNIT_OPTION_TYPE: GoType = {
  kind: 'struct',
  goName: 'schema.UnitOption',
  structName: 'UnitOption',
  fields: [{ json: 'name', type: GO_STRING }, { json: 'section', type: GO_STRING }, { json: 'value', type: GO_STRING }],
};

export const UNIT_TYPE: GoType = {
  kind: 'struct',
  goName: 'schema.Unit',
  structName: 'Unit',
  fields: [
    { json: 'currentState', type: GO_STRING },
    { json: 'desiredState', type: GO_STRING },
    { json: 'machineID', type: GO_STRING },
    { json: 'name', type: GO_STRING },
    { json: 'options', type: { kind: 'slice', goName: '[]*schema.UnitOption', elem: UNIT_OPTION_TYPE } },
  ],
};

/** api.machineMetadataOp: `op`, `Path` and `Value` (an anonymous struct wrapping the string). */
const METADATA_VALUE_TYPE: GoType = {
  kind: 'struct',
  goName: 'struct { Value string "json:\\"value\\"" }',
  structName: '',
  fields: [{ json: 'value', type: GO_STRING }],
};

export const METADATA_OPS_TYPE: GoType = {
  kind: 'slice',
  goName: '[]api.machineMetadataOp',
  elem: {
    kind: 'struct',
    goName: 'api.machineMetadataOp',
    structName: 'machineMetadataOp',
    fields: [{ json: 'op', type: GO_STRING }, { json: 'Path', type: GO_STRING }, { json: 'Value', type: METADATA_VALUE_TYPE }],
  },
};

export interface DecodedUnit {
  desiredState?: string;
  name?: string;
  options?: Array<{ name?: string; section?: string; value?: string } | undefined>;
}

export interface DecodedMetadataOp {
  op?: string;
  Path?: string;
  Value?: { value?: string };
}
