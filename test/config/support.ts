import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { formatConfigError, type DynamiteConfig, type ParseConfigResult } from '@dynamite/domain';

/** The repository root: the nearest folder above this file whose package.json is the `dynamite` workspace. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'dynamite') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no dynamite package.json above ${__dirname}`);
    dir = parent;
  }
}

export const ROOT = repoRoot();
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'configs');
/**
 * The original project's configs and unit files, in the `shared/` folder that lies beside the repository (CI puts its
 * copy beside the clone); DYNAMITE_SHARED_DIR overrides.
 */
export const ORIGINALS = join(
  process.env.DYNAMITE_SHARED_DIR ?? [join(ROOT, '..', 'shared'), '/work/shared'].find((d) => existsSync(join(d, 'reference'))) ?? join(ROOT, '..', 'shared'),
  'reference',
  'original',
);

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `dynamite` bin (bin/dynamite.js) from the repo root, without any DYNAMITE_* settings of the caller.
 * With `timeoutMs`, a run that has not ended by then is killed and the promise rejects: a hang fails its test
 * and leaves no process behind.
 */
export function runDynamite(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('DYNAMITE_')) env[key] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'dynamite.js'), ...args], { cwd: opts.cwd ?? ROOT, env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? null : setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      if (timedOut) reject(new Error(`dynamite ${args.join(' ')} did not end within ${opts.timeoutMs} ms (killed); stderr: ${stderr.slice(0, 500)}`));
      else resolve({ code, stdout, stderr });
    });
  });
}

/** Lines of output, without the empty one after the last newline. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line, i, all) => !(line === '' && i === all.length - 1));
}

/** The config of a parse that must succeed; the errors, formatted, fail the test otherwise. */
export function expectValid(result: ParseConfigResult): DynamiteConfig {
  if (!result.ok) assert.fail(`expected a valid config, got:\n${result.errors.map(formatConfigError).join('\n')}`);
  return result.config;
}

/** The formatted errors of a parse that must fail. */
export function expectErrors(result: ParseConfigResult): string[] {
  if (result.ok) assert.fail('expected errors, got a valid config');
  return result.errors.map(formatConfigError);
}
