import fc from 'fast-check';

/**
 * One place for how property tests run: a fixed seed (override with FC_SEED=<n> to explore), a bounded number
 * of runs, and on failure fast-check's report (seed, path, shrunk counterexample) in the error message, so
 * a failure replays exactly with `FC_SEED=<seed>`.
 */
export const SEED = process.env.FC_SEED === undefined ? 20_251_201 : Number(process.env.FC_SEED);
export const RUNS = process.env.FC_RUNS === undefined ? 200 : Number(process.env.FC_RUNS);

export function check<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>, opts: { numRuns?: number } = {}): void {
  fc.assert(property, { seed: SEED, numRuns: opts.numRuns ?? RUNS, endOnFailure: false });
}

/** Text with anything in it: any code unit (lone surrogates too), control characters, and YAML/JSON punctuation. */
export const hostileText = (maxLength = 60): fc.Arbitrary<string> =>
  fc.string({
    maxLength,
    unit: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...'[]{}:,-#&*!|>\'"%@`?\\/.=;\n\r\t \u0000\u00e9\ufeff'.split('')) },
      { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme-ascii' }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
    ),
  });
