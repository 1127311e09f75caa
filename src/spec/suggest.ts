/**
 * "Did you mean …?" for names a user typed: common other spellings of a runtime (nodejs,
 * python3, golang), and near misses (pyhton, noed).
 */

/** How other platforms and habits name Runlet's runtimes. */
const runtimeAliases: Readonly<Record<string, string>> = {
  js: "node",
  javascript: "node",
  nodejs: "node",
  ts: "typescript",
  py: "python",
  golang: "go",
  sh: "exec",
  shell: "exec",
  bash: "exec",
  binary: "exec",
};

/** The known runtime the user most likely meant by `given`, if any. */
export function suggestRuntime(given: unknown, known: readonly string[]): string | undefined {
  if (typeof given !== "string" || given === "") {
    return undefined;
  }
  const word = given.toLowerCase();
  const alias = runtimeAliases[word] ?? runtimeAliases[word.replace(/[\d.]+$/, "")];
  if (alias && known.includes(alias)) {
    return alias;
  }
  // node20, python3.12: a known name followed by a version.
  const versioned = known.find((name) => new RegExp(`^${name}[\\d.]+$`).test(word));
  if (versioned) {
    return versioned;
  }
  return closest(word, known);
}

/** The candidate within a small edit distance of `word` (about one typo per three letters). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(word, name);
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { name, distance };
    }
  }
  return best?.name;
}

/** Levenshtein distance, with a swap of two neighbouring letters counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const row = rows[i] as number[];
      const above = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** " (did you mean X?)" or "", for the end of a message. */
export function didYouMean(suggestion: string | undefined): string {
  return suggestion === undefined ? "" : ` (did you mean ${suggestion}?)`;
}
