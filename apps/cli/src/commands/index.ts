import type { Command } from 'commander';
import * as validate from './validate';
import * as engine from './engine';
import * as demo from './demo';
import * as status from './status';
import * as history from './history';
import * as fleetEmulator from './fleet-emulator';

/**
 * Every subcommand, in the order `dynamite --help` lists them. Each lives in its own file in this folder
 * and exports `register(program)`.
 */
export function registerCommands(program: Command): void {
  // Subcommands are added here as they are built: validate, run, scheduler, worker, fleet-emulator, status,
  // history, demo.
  validate.register(program);
  engine.register(program);
  demo.register(program);
  status.register(program);
  history.register(program);
  fleetEmulator.register(program);
  void program;
}
