/**
 * The nearest known name to a mistyped one, for "did you mean ...?" hints: edit distance with
 * transpositions (`lease_secs` / `lease_seconds`, `pth` / `path`, `pipeline` / `pipelines`).
 */

/** The candidate closest to `word`, when it is close enough to be the word meant; else undefined. */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const typed = word.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const known = name.toLowerCase();
    // A prefix of a known key (`lease_sec` for `lease_seconds`) is as good as a near miss.
    const distance = known.startsWith(typed) && typed.length >= 3 ? 1 : editDistance(typed, known);
    if (!best || distance < best.distance) best = { name, distance };
  }
  if (!best) return undefined;
  // A third of the word may be wrong: enough for typos, too little to pair unrelated short names.
  return best.distance <= Math.max(1, Math.floor(typed.length / 3)) ? best.name : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function editDistance(a: string, b: string): number {
  let twoBack: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, twoBack[j - 2]! + 1);
      current.push(value);
    }
    twoBack = previous;
    previous = current;
  }
  return previous[b.length]!;
}
