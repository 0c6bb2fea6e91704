/**
 * An operator-surface setting a user got wrong (`--http` value, credentials, a port in use): the CLI prints its
 * message as one line and exits 2.
 */
export class HttpConfigError extends Error {
  /** The socket error code when listening failed (EADDRINUSE, ...). */
  code?: string;

  constructor(message: string) {
    super(message);
    this.name = 'HttpConfigError';
  }
}
