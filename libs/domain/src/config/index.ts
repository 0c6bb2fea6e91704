// The config API (types live in ./types and are exported from the package root on their own).
export { formatConfigError, joinPath, type ConfigError, type ParseConfigResult } from './errors';
export { parseConfig, parseConfigObject, parseConfigJson, DEFAULT_APPLICATION_BASE_PATH, DEFAULT_METRICS_BASE_PATH } from './parse-config';
export { servicesUsingPolicy, policyDirection, findService, findPolicy, parentsOf, scaleDownWaitsForScaleUp, type ScalingDirection } from './policy-usage';
export { portRange, rangesOverlap, type PortRange } from './port-ranges';
export { ATTACHED_TYPE } from './build-service';
export { TIME_UNITS, UNIT_MS } from './scalars';
export { closestMatch, editDistance } from './suggest';
export {
  CONFIG_FILE_MAX_BYTES, CONFIG_JSON_MAX_BYTES, STORED_CONFIG_MAX_BYTES, ETCD_DEFAULT_MAX_REQUEST_BYTES, CONFIG_MAX_DEPTH, DURATION_MAX_MS,
  ENGINE_INTERVAL_MIN_MS, PORT_MAX, NAME_MAX_LENGTH, ENTRIES_MAX,
} from './limits';
export { COMPRESSED_CONFIG_PREFIX, decodeStoredConfig, encodeStoredConfig } from './stored-config';
export { NOTIFICATION_EVENTS, WEBHOOK_SECRET_MIN_LENGTH, WEBHOOK_TIMEOUT_MAX_MS } from './notifications';
export { describeChange, diffConfigs, formatConfigDiff, isEmptyDiff, type ConfigDiff, type FieldChange, type PolicyPair } from './diff';
