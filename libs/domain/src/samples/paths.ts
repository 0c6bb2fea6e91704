// Internal helpers shared by the sample modules (not exported from the package).

/** `/metrics/` -> `/metrics`; configured base paths may or may not end with a slash. */
export function trimTrailingSlashes(path: string): string {
  return path.replace(/\/+$/, '');
}
