import type { Command } from 'commander';

type CommandModule = { register(program: Command): void };

/**
 * Every subcommand, in the order `dynamite --help` lists them, and the file that registers it. Modules are
 * required only when needed: `dynamite validate` must not load the engine, BullMQ and etcd (4x slower start).
 */
const COMMANDS: [names: string[], load: () => CommandModule][] = [
  [['validate'], () => require('./validate') as typeof import('./validate')],
  [['diff', 'apply'], () => require('./apply') as typeof import('./apply')],
  [['scheduler', 'worker', 'run'], () => require('./daemons') as typeof import('./daemons')],
  [['demo'], () => require('./demo') as typeof import('./demo')],
  [['status'], () => require('./status') as typeof import('./status')],
  [['history'], () => require('./history') as typeof import('./history')],
  [['pause', 'resume', 'protect', 'unprotect'], () => require('./controls') as typeof import('./controls')],
  [['fleet-emulator'], () => require('./fleet-emulator') as typeof import('./fleet-emulator')],
];

/**
 * Registers the subcommand named by `argv` (the first word that is not an option) -- or all of them, for help,
 * a bare `dynamite` or an unknown word (so commander can list them and suggest the closest).
 */
export function registerCommands(program: Command, argv: string[] = []): void {
  const word = argv.find((a) => !a.startsWith('-'));
  const only = COMMANDS.find(([names]) => word !== undefined && names.includes(word));
  for (const entry of only ? [only] : COMMANDS) entry[1]().register(program);
}
