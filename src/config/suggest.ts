/**
 * "Did you mean" for the config and policy loaders: the closest known word by edit distance.
 * A typo in a key is the most common mistake in a hand-written YAML file, and naming the key
 * that was meant turns a lookup in the docs into a one-character fix.
 */

/** The candidate closest to `word` (case-insensitive) within `maxDistance` edits, or null. */
export function closest(word: string, candidates: Iterable<string>, maxDistance = 3): string | null {
  const target = word.toLowerCase();
  let best: string | null = null;
  let bestDistance = maxDistance + 1;
  for (const candidate of candidates) {
    const d = distance(target, candidate.toLowerCase(), maxDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean "x"?)`, or nothing when no candidate is close: ready to append to a message. */
export function didYouMean(word: string, candidates: Iterable<string>, maxDistance = 3): string {
  const hint = closest(word, candidates, maxDistance);
  return hint === null ? "" : ` (did you mean ${JSON.stringify(hint)}?)`;
}

/** Levenshtein distance; anything that differs in length by more than `max` is not computed. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return Number.POSITIVE_INFINITY;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
