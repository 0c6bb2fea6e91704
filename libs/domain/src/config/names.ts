import { NAME_MAX_LENGTH } from './limits';

/**
 * Service and policy names end up in fleet unit names (`<service>@<port>.service`), etcd keys, operator URLs
 * and command lines, so they are held to fleet's unit-name characters (without its `\` escape, and without `@`
 * for services, whose `@` separates the instance). Anything else a config holds is shown escaped.
 */

const SERVICE_NAME = /^[A-Za-z0-9:_.-]+$/;
const POLICY_NAME = /^[A-Za-z0-9:_.@-]+$/;
/**
 * A path segment printed as it is: fleet's unit-name characters, except `.`, which separates segments.
 * Anything else is JSON-quoted, so an error stays one unambiguous line (`Service."a.b"`, `Service."web\n"`).
 */
const PLAIN_SEGMENT = /^[A-Za-z0-9:_@-]+$/;
/** Text longer than this is cut in messages (a key can be as long as the file). */
const SHOWN = 80;

/** Why `name` cannot name a service (or, with `allowAt`, a policy), or null when it can. */
export function nameProblem(name: string, opts: { allowAt?: boolean } = {}): string | null {
  if (name.trim() === '') return 'must not be empty';
  const allowed = opts.allowAt ? POLICY_NAME : SERVICE_NAME;
  if (!allowed.test(name)) return `may only contain letters, digits, ":", "_", ".", "-"${opts.allowAt ? ' and "@"' : ''}`;
  if (name.length > NAME_MAX_LENGTH) return `is longer than ${NAME_MAX_LENGTH} characters`;
  if (name === '.' || name === '..') return 'cannot be "." or ".."';
  if (name === '__proto__') return 'is reserved';
  return null;
}

/** Text from the config inside a message: JSON-quoted (escapes included) and cut when very long. */
export function quote(text: string): string {
  return JSON.stringify(text.length > SHOWN ? `${text.slice(0, SHOWN - 3)}...` : text);
}

/** A key inside an error path: as it is when plain, else quoted like `quote`. */
export function pathSegment(key: string): string {
  return PLAIN_SEGMENT.test(key) && key.length <= SHOWN ? key : quote(key);
}

/** `\n` for a newline, `\u007f` for DEL: what is left of a line break or a control character, visibly. */
export function escapeControlCharacters(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\u007f' ? '\\u007f' : JSON.stringify(c).slice(1, -1)));
}
