import { Option, type Command } from 'commander';
import { formatConfigError, loadConfig } from '@dynamite/config-loader';
import { formatPlan, planConfig, storeConfig, waitUntilApplied, type ConfigToStore } from '@dynamite/engine';
import { UsageError } from '../errors';
import { DEFAULTS, addConfigOptions, addEtcdOption } from '../options';
import { addEtcdSecurityOptions } from '../daemon-options';
import { printable, withStore, type EtcdReadFlags } from './status';

type ConfigFlags = EtcdReadFlags & { config_file?: string; service_folder?: string[] };
type ApplyFlags = ConfigFlags & { prune?: boolean; wait: string };

/** The file and its unit files, validated exactly as `dynamite validate` does; every problem is printed, then exit 2. */
function loadOrExplain(flags: ConfigFlags): ConfigToStore {
  const loaded = loadConfig({ configFile: flags.config_file ?? DEFAULTS.configFile, serviceFolders: flags.service_folder ?? [] });
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`error: ${formatConfigError(e)}\n`);
    throw new UsageError(`${flags.config_file ?? DEFAULTS.configFile}: not applied (${loaded.errors.length} problem${loaded.errors.length === 1 ? '' : 's'})`);
  }
  for (const w of loaded.warnings) process.stderr.write(`warning: ${formatConfigError(w)}\n`);
  return { config: loaded.config, unitFiles: loaded.unitFiles };
}

function parseWait(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(n) || n > 600) throw new UsageError(`--wait: must be a number of seconds from 0 to 600 (got "${value}")`);
  return n * 1000;
}

/**
 * `dynamite diff -c FILE [-s DIR ...]`: what `dynamite apply` would change in the running engine: services and policies
 * added, removed and changed key by key, unit files changed, services left unmanaged. Exit 0 when nothing would
 * change, 1 when something would (like diff), 2 on an error.
 *
 * `dynamite apply -c FILE [-s DIR ...] [--prune] [--wait S]`: validates the file and its unit files, prints the same,
 * stores them in etcd, and waits until the leading scheduler applied them (docs/hot-reload.md).
 */
export function register(program: Command): void {
  const diff = program
    .command('diff')
    .description('show what dynamite apply would change in the running engine (exit 0: nothing, 1: changes, 2: error)');
  addEtcdSecurityOptions(addEtcdOption(addConfigOptions(diff)));
  diff.action(async (flags: ConfigFlags) => {
    const next = loadOrExplain(flags);
    const plan = await withStore(flags, (store) => planConfig(store, next));
    const lines = formatPlan(plan, next.config);
    process.stdout.write(plan.changed ? `${lines.map(printable).join('\n')}\n` : `no change${lines.length > 0 ? `\n${lines.map(printable).join('\n')}` : ''}\n`);
    process.exitCode = plan.changed ? 1 : 0;
  });

  const apply = program
    .command('apply')
    .description('validate a config and its unit files and store them: the running engine uses them without a restart')
    .option('--prune', 'destroy the units of services no longer in the config (default: leave them running, unmanaged)')
    .addOption(new Option('--wait <seconds>', 'wait this long for the leading scheduler to apply it (0: do not wait)').default('30'));
  addEtcdSecurityOptions(addEtcdOption(addConfigOptions(apply)));
  apply.action(async (flags: ApplyFlags) => {
    const waitMs = parseWait(flags.wait);
    const next = loadOrExplain(flags);
    const result = await withStore(flags, async (store) => {
      const plan = await planConfig(store, next);
      const lines = formatPlan(plan, next.config, { prune: flags.prune === true });
      if (lines.length > 0) process.stdout.write(`${lines.map(printable).join('\n')}\n`);
      const revision = await storeConfig(store, next, plan, { prune: flags.prune === true, by: 'dynamite apply', now: Date.now() });
      if (revision === null) return { revision, applied: true };
      process.stdout.write(`stored at revision ${revision}\n`);
      return { revision, applied: waitMs === 0 ? null : await waitUntilApplied(store, revision, waitMs) };
    }, { deadlineMs: waitMs + 30_000 });
    if (result.revision === null) {
      process.stdout.write('no change: nothing stored\n');
    } else if (result.applied === true) {
      process.stdout.write(`applied by the leading scheduler (see dynamite history <service>)\n`);
    } else if (result.applied === false) {
      throw new UsageError(`stored at revision ${result.revision}, but no leading scheduler applied it within ${flags.wait} s (is a scheduler running? it applies it when it leads)`, 1);
    }
  });
}
