/**
 * An error a user caused (bad flag, bad file, unreachable server): printed as its message, never as a stack.
 */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UsageError';
  }
}
