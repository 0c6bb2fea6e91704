/**
 * "Did you mean" for misspelt keys and names: the closest candidate by edit distance (optimal string
 * alignment: insertions, deletions, substitutions, and swaps of two neighbours), ignoring case.
 */

/** Longer words and candidates are never compared (names are at most 128 characters). */
const SUGGEST_MAX_LENGTH = 160;
/** The largest distance any rule below accepts. */
const MAX_USEFUL_DISTANCE = 4;

/** The closest candidate, or null when none is close enough to be a plausible typo. */
export function closestMatch(word: string, candidateList: Iterable<string>): string | null {
  // The distance table is word x candidate: a word far longer than any name (a key can be as long as the file)
  // is no typo of one, and is not compared.
  if (word.length > SUGGEST_MAX_LENGTH) return null;
  const candidates = [...candidateList].filter((c) => c.length <= SUGGEST_MAX_LENGTH);
  const target = word.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  let ties = 0;
  for (const candidate of candidates) {
    // Only distances up to MAX_USEFUL_DISTANCE can make a suggestion (see below); farther ones all count as one more.
    const distance = boundedEditDistance(target, candidate.toLowerCase(), MAX_USEFUL_DISTANCE);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
      ties = 1;
    } else if (distance === bestDistance) {
      ties++;
    }
  }
  if (best === null) return null;
  // A slip of one or two characters is the likeliest story (max_instances -> max_instance) ...
  if (bestDistance <= Math.min(2, Math.floor(target.length / 3) || 1)) return best;
  // ... then an abbreviation of exactly one candidate (`sec` -> second, `base_instance` -> base_instance_prefix_number) ...
  const starts = candidates.filter((c) => target.length >= 3 && c.toLowerCase().startsWith(target));
  if (starts.length === 1) return starts[0]!;
  // ... then, for longer words, up to a third of their length in edits, when one candidate is clearly closest.
  const allowed = Math.max(1, Math.min(4, Math.floor(Math.max(target.length, best.length) / 3)));
  return bestDistance <= allowed && ties === 1 ? best : null;
}

/** `; did you mean "x"?` or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closestMatch(word, candidates);
  return match === null ? '' : `; did you mean ${JSON.stringify(match)}?`;
}

export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0]![j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * `editDistance(a, b)` when it is at most `max`, else `max + 1`: only cells within `max` of the diagonal are
 * filled, and the rows stop as soon as all of them exceed `max`. Same edits (swaps too) as editDistance.
 */
function boundedEditDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const over = max + 1;
  const cols = b.length + 1;
  let prev2 = new Array<number>(cols).fill(over);
  let prev = Array.from({ length: cols }, (_, j) => (j <= max ? j : over));
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(cols).fill(over);
    if (i <= max) row[0] = i;
    let rowMin = row[0]!;
    const from = Math.max(1, i - max);
    const to = Math.min(b.length, i + max);
    for (let j = from; j <= to; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, prev2[j - 2]! + 1);
      row[j] = Math.min(value, over);
      if (row[j]! < rowMin) rowMin = row[j]!;
    }
    if (rowMin > max) return over;
    prev2 = prev;
    prev = row;
  }
  return Math.min(prev[b.length]!, over);
}
