import type { ConfigError, ConfigWarning, DynamiteConfig } from '@dynamite/domain';
import type { UnitOption } from '@dynamite/unit-files';

/** One unit file a service names, as found in the service folders. */
export interface UnitFileSource {
  /** The file name, as in `name_of_unit_file` (e.g. `apache@.service`). */
  name: string;
  /** Absolute path of the file. */
  path: string;
  /** The file's text, unchanged. */
  text: string;
  /** The text parsed as fleet parses it (go-systemd rules), in file order. */
  options: UnitOption[];
}

export type LoadResult =
  | {
      ok: true;
      /** The config, with `serviceFolders` replaced by the merged, absolute folder list actually searched. */
      config: DynamiteConfig;
      /** Every unit file a service names (attached services too), keyed by file name. */
      unitFiles: Map<string, UnitFileSource>;
      warnings: ConfigWarning[];
    }
  | { ok: false; errors: ConfigError[] };

export interface FolderOptions {
  /** `--service_folder` values, searched after `ServiceFiles.PathList`. */
  serviceFolders?: string[];
  /** What relative paths resolve against (default: the process's working directory, as in the original). */
  cwd?: string;
}

export interface LoadConfigOptions extends FolderOptions {
  /** The YAML config file. */
  configFile: string;
}
