import type { Command } from 'commander';
import { formatConfigError, loadConfig } from '@dynamite/config-loader';
import { DEFAULTS, addConfigOptions } from '../options';

interface ValidateOptions {
  config_file?: string;
  service_folder?: string[];
}

/**
 * `dynamite validate -c FILE [-s DIR ...]`: checks a config and the unit files it names, without touching
 * etcd or fleet. Prints `ok` (warnings on stderr) and exits 0, or every error on stderr and exits 2.
 */
export function register(program: Command): void {
  const cmd = program
    .command('validate')
    .description('check a config file and the unit files it names; prints every problem at once');
  addConfigOptions(cmd);
  cmd.action((opts: ValidateOptions) => {
    process.exitCode = runValidate(opts);
  });
}

export function runValidate(opts: ValidateOptions, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  const result = loadConfig({ configFile: opts.config_file ?? DEFAULTS.configFile, serviceFolders: opts.service_folder ?? [] });
  if (!result.ok) {
    for (const e of result.errors) err.write(`error: ${formatConfigError(e)}\n`);
    return 2;
  }
  for (const w of result.warnings) err.write(`warning: ${formatConfigError(w)}\n`);
  out.write('ok\n');
  return 0;
}
