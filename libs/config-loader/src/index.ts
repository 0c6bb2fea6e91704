export { loadConfig, loadConfigFromObject } from './load-config';
export { mergeServiceFolders, indexUnitFiles, type ServiceFolder } from './service-folders';
export type { LoadResult, UnitFileSource, LoadConfigOptions, FolderOptions } from './types';
// Re-exported so callers of the loader need one import for the etcd copy as well.
export { parseConfigJson, formatConfigError, type ConfigError } from '@dynamite/domain';
