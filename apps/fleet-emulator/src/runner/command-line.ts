/**
 * systemd command lines and environment assignments (spec §12): C-style escapes, double and single quotes,
 * exec prefixes, and `$VAR` / `${VAR}` substitution at execution time.
 */

export class CommandLineError extends Error {}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', s: ' ', '\\': '\\', '"': '"', "'": "'",
};

/** Reads one C escape after a backslash at text[i]; returns the character(s) and the index after it. */
function unescapeAt(text: string, i: number): [string, number] {
  const c = text[i];
  if (c === undefined) return ['\\', i];
  if (SIMPLE_ESCAPES[c] !== undefined) return [SIMPLE_ESCAPES[c], i + 1];
  if (c === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) return [String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16)), i + 3];
  if (c === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) return [String.fromCodePoint(parseInt(text.slice(i + 1, i + 5), 16)), i + 5];
  if (c === 'U' && /^[0-9a-fA-F]{8}$/.test(text.slice(i + 1, i + 9))) return [String.fromCodePoint(parseInt(text.slice(i + 1, i + 9), 16)), i + 9];
  if (/^[0-7]{3}$/.test(text.slice(i, i + 3))) return [String.fromCharCode(parseInt(text.slice(i, i + 3), 8)), i + 3];
  // Unknown escapes keep the character (systemd's relaxed mode).
  return [c, i + 1];
}

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** systemd's extract_first_word loop with unquoting and C unescaping: the words of a line. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && isSpace(text[i])) i++;
    if (i >= text.length) break;
    let word = '';
    let quote: string | null = null;
    for (; i < text.length; i++) {
      const c = text[i];
      if (quote !== null) {
        if (c === quote) { quote = null; continue; }
        if (c === '\\') { const [s, next] = unescapeAt(text, i + 1); word += s; i = next - 1; continue; }
        word += c;
        continue;
      }
      if (isSpace(c)) break;
      if (c === '"' || c === "'") { quote = c; continue; }
      if (c === '\\') { const [s, next] = unescapeAt(text, i + 1); word += s; i = next - 1; continue; }
      word += c;
    }
    if (quote !== null) throw new CommandLineError(`unbalanced quotes in ${JSON.stringify(text)}`);
    words.push(word);
  }
  return words;
}

export interface ExecCommand {
  /** `-` prefix: a failure is ignored. */
  ignoreFailure: boolean;
  /** `:` prefix: no environment substitution. */
  noEnvironment: boolean;
  /** `@` prefix: the second word is argv[0]. */
  argv0: string | null;
  /** The program and its arguments, before environment substitution. */
  words: string[];
  /** The line as written (after specifier expansion), for the journal. */
  text: string;
}

/** Parses an Exec*= value: prefixes `-@+!:` (`+` and `!` are accepted and ignored locally), then the words. */
export function parseExecCommand(value: string): ExecCommand | null {
  let rest = value.trim();
  let ignoreFailure = false;
  let noEnvironment = false;
  let hasArgv0 = false;
  for (;;) {
    const c = rest[0];
    if (c === '-') ignoreFailure = true;
    else if (c === '@') hasArgv0 = true;
    else if (c === ':') noEnvironment = true;
    else if (c === '+' || c === '!') { /* privilege flags: meaningless without systemd */ }
    else break;
    rest = rest.slice(1);
  }
  const words = splitWords(rest);
  if (words.length === 0) return null;
  if (hasArgv0) {
    if (words.length < 2) throw new CommandLineError(`"@" needs a program and an argv[0] in ${JSON.stringify(value)}`);
    const [program, argv0, ...args] = words;
    return { ignoreFailure, noEnvironment, argv0, words: [program, ...args], text: rest };
  }
  return { ignoreFailure, noEnvironment, argv0: null, words, text: rest };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * systemd's replace_env_argv: a word that is exactly `$NAME` becomes the value split into words (none if
 * unset); `${NAME}` anywhere in a word is replaced by the value as is; `$$` is a literal `$`.
 */
export function substituteEnvironment(words: string[], env: Record<string, string>): string[] {
  const out: string[] = [];
  for (const word of words) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) {
      const value = env[whole[1]];
      if (value !== undefined) out.push(...splitWords(value));
      continue;
    }
    out.push(word.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string | undefined) => (m === '$$' ? '$' : env[name!] ?? '')));
  }
  return out;
}

/** `Environment=` assignments: quoted words of `NAME=value`; invalid words are skipped with a warning. */
export function parseEnvironmentAssignments(value: string, warn: (message: string) => void): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const word of splitWords(value)) {
    const eq = word.indexOf('=');
    const name = eq === -1 ? '' : word.slice(0, eq);
    if (!NAME.test(name)) { warn(`Invalid environment assignment, ignoring: ${word}`); continue; }
    out.push([name, word.slice(eq + 1)]);
  }
  return out;
}

/** An environment file (`KEY=value` lines, `#`/`;` comments, shell-like quotes and continuations). */
export function parseEnvironmentFile(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
    if (i >= n) break;
    if (text[i] === '#' || text[i] === ';') { while (i < n && text[i] !== '\n') i++; continue; }
    let key = '';
    while (i < n && text[i] !== '=' && text[i] !== '\n') key += text[i++];
    key = key.trim().replace(/^export\s+/, '');
    if (i >= n || text[i] === '\n') continue; // a line without "=" is ignored
    i++; // "="
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) {
          const next = text[i + 1];
          if (next === '\n') { i += 2; continue; }
          if ('"\\`$'.includes(next)) { value += next; i += 2; continue; }
        }
        value += text[i++];
      }
      i++;
      while (i < n && text[i] !== '\n') i++;
    } else if (text[i] === "'") {
      i++;
      while (i < n && text[i] !== "'") value += text[i++];
      i++;
      while (i < n && text[i] !== '\n') i++;
    } else {
      while (i < n && text[i] !== '\n') {
        if (text[i] === '\\' && i + 1 < n) {
          if (text[i + 1] === '\n') { i += 2; continue; }
          value += text[i + 1];
          i += 2;
          continue;
        }
        value += text[i++];
      }
      value = value.replace(/[ \t\r]+$/, '');
    }
    if (NAME.test(key)) out.push([key, value]);
  }
  return out;
}
