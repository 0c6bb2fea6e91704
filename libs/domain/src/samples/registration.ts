import { trimTrailingSlashes } from './paths';

/**
 * Instance registrations, written by the application's announcer units:
 *   `<application_base_path>/<service_type>/<uuid>/service_instance_name` = `web@8080.service` (`.service` optional)
 * They map a sample's uuid to the fleet unit to remove when that instance triggers a scale down.
 */

export const REGISTRATION_LEAF = 'service_instance_name';

/** The prefix every registration key starts with: `<application_base_path>/`. */
export function registrationsPrefix(applicationBasePath: string): string {
  return `${trimTrailingSlashes(applicationBasePath)}/`;
}

/** `<application_base_path>/<type>/<uuid>/service_instance_name`: where an instance registers under its uuid. */
export function registrationKey(applicationBasePath: string, serviceType: string, uuid: string): string {
  return `${registrationsPrefix(applicationBasePath)}${serviceType}/${uuid}/${REGISTRATION_LEAF}`;
}

/** The (service type, uuid) a registration key is about, or null for any other key. */
export function parseRegistrationKey(
  key: string,
  applicationBasePath: string,
): { serviceType: string; uuid: string } | null {
  const prefix = registrationsPrefix(applicationBasePath);
  if (!key.startsWith(prefix)) return null;
  const segments = key.slice(prefix.length).split('/');
  if (segments.length !== 3 || segments[2] !== REGISTRATION_LEAF) return null;
  const [serviceType, uuid] = segments as [string, string, string];
  if (serviceType === '' || uuid === '') return null;
  return { serviceType, uuid };
}

// systemd unit name characters (letters, digits, ":-_.\@"); anything else cannot be a fleet unit.
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+$/;
const SERVICE_SUFFIX = '.service';

/**
 * The unit name a registration value names: trimmed, `.service` added when missing (as the original did);
 * null when the value is empty or cannot be an instance's unit name (whitespace inside, slashes, quotes,
 * a bare template such as `web@.service`, ...).
 */
export function normalizeInstanceName(value: string): string | null {
  const trimmed = value.trim();
  const name = trimmed.endsWith(SERVICE_SUFFIX) ? trimmed : `${trimmed}${SERVICE_SUFFIX}`;
  const stem = name.slice(0, -SERVICE_SUFFIX.length);
  if (stem === '' || !UNIT_NAME.test(stem)) return null;
  // `web@.service` is a template, not an instance; `@8080` has no unit prefix.
  const at = stem.indexOf('@');
  if (at !== -1 && (at === 0 || at === stem.length - 1 || stem.indexOf('@', at + 1) !== -1)) return null;
  return name;
}
