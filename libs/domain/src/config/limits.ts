/**
 * Limits on what a config may hold, so that whatever `dynamite validate` accepts, `dynamite run` can run:
 * every value fits the places it ends up in (etcd, BullMQ, Date arithmetic, unit names, URLs).
 */

const MiB = 1024 * 1024;

/**
 * A config file is read only up to this size: a hand-written one is a few KB, a generated one of fleet's 10,000
 * services with two policies each about 10 MB of YAML.
 */
export const CONFIG_FILE_MAX_BYTES = 16 * MiB;

/**
 * The most JSON a config may be (what the engine keeps in memory and parses; YAML aliases expanded): twice the
 * largest config of ENTRIES_MAX entries.
 */
export const CONFIG_JSON_MAX_BYTES = 32 * MiB;

/**
 * The config is stored in etcd in one key (`/_dynamite/init/application_configuration`): its JSON when that fits
 * this, else gzipped (stored-config.ts), which must fit it. etcd refuses requests over 1.5 MiB by default
 * (`--max-request-bytes`); the value must fit with room for the key and the request.
 */
export const STORED_CONFIG_MAX_BYTES = 1 * MiB;
export const ETCD_DEFAULT_MAX_REQUEST_BYTES = 1.5 * MiB;

/** The deepest nesting of lists and mappings, aliases expanded (js-yaml stops plain nesting at 100 too). */
export const CONFIG_MAX_DEPTH = 100;

/**
 * The longest duration: 10 years (3650 days). Every time the engine computes from a duration (an expiry, a
 * cooldown's end, a retention cutoff) then stays a valid Date for the next 270,000 years.
 */
export const DURATION_MAX_MS = 3650 * 24 * 3_600_000;

/** The shortest reconcile interval and metrics retention: the engine runs jobs at these intervals. */
export const ENGINE_INTERVAL_MIN_MS = 1_000;

/** Instance counts and ports per instance: every instance has its own port, and there are 65535. */
export const PORT_MAX = 65535;

/** The longest service or policy name: `<name>@<port>.service` must stay well inside fleet's 256. */
export const NAME_MAX_LENGTH = 128;

/**
 * The most services, and the most policies, one config may declare: fleet's own scale (10,000 services, each with
 * a scale-up and a scale-down policy) and no more. A few checks compare entries pairwise (overlapping port
 * ranges); these bounds keep them within a second on any file.
 */
export const ENTRIES_MAX = { service: 10_000, policy: 20_000 } as const;
