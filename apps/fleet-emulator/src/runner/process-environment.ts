import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SpecifierContext } from '@dynamite/unit-files';
import { parseEnvironmentFile } from './command-line';
import type { ServiceConfig } from './service-config';

/**
 * What a unit's processes run with, assembled the way systemd's exec context does it: the specifier values
 * (`%u`, `%h`, `%t`, ...), the environment (a systemd-like base, then Environment=, then EnvironmentFile=),
 * and the working directory.
 */

export interface UserInfo {
  username: string;
  uid: number;
  homedir: string;
  shell: string | null;
}

/** The user the emulator (and so every unit) runs as; os.userInfo() throws when the uid has no passwd entry. */
export function currentUser(): UserInfo {
  try {
    return os.userInfo();
  } catch {
    return { username: process.env.USER ?? 'root', uid: process.getuid?.() ?? 0, homedir: process.env.HOME ?? '/', shell: null };
  }
}

/** The values systemd's specifiers expand to for one unit on one simulated machine. */
export function specifierContext(
  unit: { unitName: string; machineId: string; hostname: string; bootId: string },
  user: UserInfo = currentUser(),
  hostEnv: NodeJS.ProcessEnv = process.env,
): SpecifierContext {
  return {
    unitName: unit.unitName,
    machineId: unit.machineId,
    hostname: unit.hostname,
    bootId: unit.bootId,
    userName: user.username,
    uid: user.uid,
    home: user.homedir,
    runtimeDir: hostEnv.XDG_RUNTIME_DIR ?? '/run',
  };
}

export interface EnvironmentSources {
  /** The emulator's own environment: PATH, LANG, TZ and TMPDIR are taken from it. */
  hostEnv?: NodeJS.ProcessEnv;
  user?: UserInfo;
  /** Where warnings go (the unit's journal). */
  warn: (message: string) => void;
}

/**
 * A systemd-like minimal environment, then Environment=, then EnvironmentFile= (read now, at each start; it
 * wins over Environment=).
 */
export function processEnvironment(
  config: Pick<ServiceConfig, 'environment' | 'environmentFiles'>,
  sources: EnvironmentSources,
): Record<string, string> {
  const hostEnv = sources.hostEnv ?? process.env;
  const user = sources.user ?? currentUser();
  const env: Record<string, string> = {
    PATH: hostEnv.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: hostEnv.LANG ?? 'C.UTF-8',
    HOME: user.homedir,
    USER: user.username,
    LOGNAME: user.username,
    SHELL: user.shell ?? '/bin/sh',
  };
  for (const name of ['TZ', 'TMPDIR'] as const) if (hostEnv[name] !== undefined) env[name] = hostEnv[name]!;
  for (const [name, value] of config.environment) env[name] = value;
  for (const file of config.environmentFiles) {
    let text: string;
    try {
      text = fs.readFileSync(file.path, 'utf8');
    } catch (err) {
      // Deviation: systemd refuses to start; the emulator warns and goes on so that real unit files
      // (which read /etc/environment on CoreOS) run here.
      if (!file.optional) sources.warn(`Failed to load environment file ${file.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; continuing without it`);
      continue;
    }
    for (const [name, value] of parseEnvironmentFile(text)) env[name] = value;
  }
  return env;
}

/**
 * WorkingDirectory=: `/` when unset, `~` is the user's home, a `-` prefix falls back to `/` when the directory
 * is missing. null (with a warning) when a required directory is missing: the start fails like systemd's.
 */
export function workingDirectory(
  config: Pick<ServiceConfig, 'workingDirectory'>,
  sources: { user?: UserInfo; warn: (message: string) => void },
): string | null {
  const wd = config.workingDirectory;
  if (wd === null) return '/';
  const dir = wd.path === '~' ? (sources.user ?? currentUser()).homedir : path.resolve('/', wd.path);
  try {
    if (fs.statSync(dir).isDirectory()) return dir;
  } catch { /* missing */ }
  if (wd.optional) return '/';
  sources.warn(`Changing to the requested working directory ${dir} failed: No such file or directory`);
  return null;
}
