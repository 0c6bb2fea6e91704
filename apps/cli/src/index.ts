import { Command, CommanderError } from 'commander';
import { UsageError } from './errors';
import { registerCommands } from './commands';

/** Builds the `dynamite` program; every subcommand registers itself from commands/. */
export function buildProgram(argv: string[] = []): Command {
  const program = new Command('dynamite')
    .description('dynamite: an autoscaling engine for fleet and etcd, on BullMQ job queues')
    .showHelpAfterError(false)
    .exitOverride();
  registerCommands(program, argv);
  return program;
}

/**
 * grpc-js gives TLS the address of an IP endpoint (`https://10.0.0.5:2379`) as server name, which Node flags on every
 * connection (DEP0123): noise around the one line a user reads. The certificate is still checked against the address.
 */
function quietTlsServerNameWarning(): void {
  const emit = process.emitWarning;
  process.emitWarning = function emitWarning(this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: unknown }).code : rest[1];
    if (code === 'DEP0123') return;
    return (emit as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
}

/** Runs the CLI and returns the exit code; user errors print one line, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  quietTlsServerNameWarning();
  const program = buildProgram(argv);
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`dynamite: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`dynamite: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.DYNAMITE_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
    return 1;
  }
}
