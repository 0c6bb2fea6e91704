import { gunzipSync, gzipSync } from 'node:zlib';
import { STORED_CONFIG_MAX_BYTES } from './limits';

/**
 * The config as stored at `/_dynamite/init/application_configuration`: its JSON, as the original wrote it, while that
 * fits STORED_CONFIG_MAX_BYTES (1,000 services are ~840 KB). A larger one -- fleet's ceiling is 10,000 services -- is
 * stored gzipped, in base64 after COMPRESSED_CONFIG_PREFIX (the repetitive configs of many services shrink ~20
 * times). One key either way: a config is still replaced in one transaction and watched as one key.
 */
export const COMPRESSED_CONFIG_PREFIX = 'dynamite-gzip-base64:';

/** The value to store for a config's raw object (`json`: its JSON when already made). */
export function encodeStoredConfig(raw: unknown, opts: { json?: string; plainLimit?: number } = {}): string {
  const json = opts.json ?? JSON.stringify(raw);
  if (Buffer.byteLength(json, 'utf8') <= (opts.plainLimit ?? STORED_CONFIG_MAX_BYTES)) return json;
  return COMPRESSED_CONFIG_PREFIX + gzipSync(json).toString('base64');
}

/** The config's JSON text from a stored value (plain or compressed); throws a one-line reason when it cannot be read. */
export function decodeStoredConfig(value: string): string {
  if (!value.startsWith(COMPRESSED_CONFIG_PREFIX)) return value;
  try {
    return gunzipSync(Buffer.from(value.slice(COMPRESSED_CONFIG_PREFIX.length), 'base64')).toString('utf8');
  } catch (err) {
    throw new Error(`the stored config is marked compressed (${COMPRESSED_CONFIG_PREFIX}) but does not decompress: ${(err as Error).message}`);
  }
}
